#!/bin/sh
# make MPI=1 test-mpi: the tiny ring ablation (2 learning rates x 2 seeds, 60 steps) in one
# process, then under mpirun -np 2 into the same folder (results.json names run folders, so the
# same --out makes the files comparable byte for byte): the same results.json; a rerun keeps
# every run; a failing rank makes the job exit non-zero, naming the rank. Ends with the suite's
# "N passed, N failed, N skipped" line.
gantry=${GANTRY_BIN:-build-mpi/gantry}
. tests/mpi/harness.sh
ablate() { # launcher words (may be empty), then extra options
    launcher=$1; shift
    $launcher "$gantry" ablate --config configs/gan-ring.ini --vary optim.d.lr=1e-4,1e-3 --seeds 2 \
        --budget 60 --out "$dir/abl" --set model.g.width=16 --set model.d.width=16 \
        --set model.g.depth=2 --set model.d.depth=2 --set model.g.z_dim=8 --set train.batch=64 \
        --set train.eval_every=0 --set train.threads=1 "$@"
}
echo "== tests/mpi_ablate.sh ($gantry)"
ablate "" > "$dir/one.out" 2> "$dir/one.err"
check "one process" test $? -eq 0
cp "$dir/abl/results.json" "$dir/one.json" 2>/dev/null
rm -rf "$dir/abl"
ablate "$mpirun" > "$dir/mpi.out" 2> "$dir/mpi.err"
check "mpirun -np 2" test $? -eq 0
check "the same results.json" cmp "$dir/one.json" "$dir/abl/results.json"
check "the same table on stdout" cmp "$dir/one.out" "$dir/mpi.out"
check "only rank 0 logs: its 2 runs" test "$(grep -c 'trained and scored' "$dir/mpi.err")" -eq 2
ablate "$mpirun" > /dev/null 2> "$dir/again.err"
check "a rerun keeps rank 0's runs" test "$(grep -c 'finished earlier, kept' "$dir/again.err")" -eq 2
check "and writes the same results.json" cmp "$dir/one.json" "$dir/abl/results.json"
# rank 1's run folders made unwritable: rank 1 fails, the job exits 1 naming it
rm -rf "$dir/abl/runs/optim.d.lr=1e-4-s1" "$dir/abl/runs/optim.d.lr=1e-3-s1"
touch "$dir/abl/runs/optim.d.lr=1e-4-s1" "$dir/abl/runs/optim.d.lr=1e-3-s1"
ablate "$mpirun" > /dev/null 2> "$dir/fail.err"; rc=$?
check "a failing rank fails the job" test "$rc" -ne 0
check "naming the rank" grep -q "rank(s) 1 failed" "$dir/fail.err"
if [ "$failed" -ne 0 ]; then
    for f in one.err mpi.err again.err fail.err; do echo "-- $f"; cat "$dir/$f" 2>/dev/null; done
fi
tally
