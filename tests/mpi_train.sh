#!/bin/sh
# make MPI=1 test-mpi: one run over two MPI ranks against one process with train.accumulate = 2
# (the same shards, one after the other): after N steps the checkpoints hold the same bytes, for
# the ring MLP, DCGAN-28 with batch norm in G and D, and DCGAN-28 with WGAN-GP; a run started on
# 2 ranks resumes on one process; ranks given different configurations are refused; a rank that
# dies stops the job within a bounded time naming it, and the last checkpoint stays intact.
gantry=${GANTRY_BIN:-build-mpi/gantry}
same=${CKPT_SAME:-build-mpi/tests/mpi/ckpt_same}
. tests/mpi/harness.sh
train() { # launcher words (may be empty), run folder, then recipe and overrides
    launcher=$1; out=$2; shift 2
    $launcher "$gantry" train --out "$out" --quiet train.eval_every=0 train.sample_every=0 \
        train.threads=1 --config "$@" > "$out.log" 2>&1
}
echo "== tests/mpi_train.sh ($gantry)"
SMALL_DCGAN="model.g.width=8 model.d.width=8 model.g.z_dim=16 train.batch=16"
for case in "ring:configs/gan-ring.ini:model.g.width=32 model.d.width=32 train.batch=64 train.steps=20" \
            "dcgan-bn:configs/dcgan-fmnist.ini:$SMALL_DCGAN train.steps=6" \
            "wgan-gp:configs/wgan-gp-fmnist.ini:$SMALL_DCGAN train.steps=4"; do
    name=${case%%:*}; rest=${case#*:}; recipe=${rest%%:*}; words=${rest#*:}
    # shellcheck disable=SC2086
    train "$mpirun" "$dir/$name-ranks" "$recipe" $words
    check "$name: 2 ranks train" test $? -eq 0
    # shellcheck disable=SC2086
    train "" "$dir/$name-acc" "$recipe" $words train.accumulate=2
    check "$name: accumulate 2 trains" test $? -eq 0
    check "$name: 2 ranks = accumulate 2, bit for bit" \
        "$same" "$dir/$name-ranks/checkpoint.safetensors" "$dir/$name-acc/checkpoint.safetensors"
done

# resumed with another split: 2 ranks for 10 steps, then one process (accumulate 2) to 20
train "$mpirun" "$dir/resume" configs/gan-ring.ini model.g.width=32 model.d.width=32 train.batch=64 train.steps=10
"$gantry" train --resume "$dir/resume" --quiet train.steps=20 train.accumulate=2 > "$dir/resume.log" 2>&1
check "2 ranks then one process = 2 ranks throughout" \
    "$same" "$dir/resume/checkpoint.safetensors" "$dir/ring-ranks/checkpoint.safetensors"

# different configurations on the ranks
$mpirun sh -c '"$0" train --config configs/gan-ring.ini --out "$1/mixed" --quiet train.steps=5 \
    train.seed=$OMPI_COMM_WORLD_RANK' "$gantry" "$dir" > "$dir/mixed.log" 2>&1
rc=$?
check "different configurations: refused" test $rc -ne 0
check "...naming the ranks" grep -q "different configurations" "$dir/mixed.log"

# a rank killed mid-run: the job stops within 60 s naming it; the checkpoint before stays readable
$mpirun "$gantry" train --config configs/gan-ring.ini --out "$dir/kill" --quiet train.steps=1000000 \
    train.checkpoint_every=20 train.eval_every=0 train.sample_every=0 train.threads=1 \
    > "$dir/kill.log" 2>&1 &
job=$!
for _ in $(seq 1 100); do [ -f "$dir/kill/checkpoint.safetensors" ] && break; sleep 0.2; done
victim=$(pgrep -f "gantry train --config configs/gan-ring.ini --out $dir/kill" | sort -n | tail -n 1)
[ -n "$victim" ] && kill -9 "$victim"
for _ in $(seq 1 300); do kill -0 "$job" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$job" 2>/dev/null; then stopped=1; kill -9 "$job"; else stopped=0; fi
wait "$job"; rc=$?
check "a killed rank stops the job within 60 s" test "$stopped" -eq 0
check "...with an error exit" test "$rc" -ne 0
check "...naming the rank" grep -Eq "rank [0-9]+" "$dir/kill.log"
grep -E "rank [0-9]+" "$dir/kill.log" | head -n 2 | sed 's/^/       /' 
check "...and the last checkpoint is intact" \
    sh -c '"$0" info "$1" > /dev/null' "$gantry" "$dir/kill/checkpoint.safetensors"

tally
