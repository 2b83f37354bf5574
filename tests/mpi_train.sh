#!/bin/sh
# make MPI=1 test-mpi: one run over two MPI ranks against one process with train.accumulate = 2
# (the same shards, one after the other): after N steps the checkpoints hold the same bytes, for
# the ring MLP, DCGAN-28 with batch norm in G and D, and DCGAN-28 with WGAN-GP; with
# train.sync_bn = true, 2 ranks match one process on the whole batch to float32 rounding (batch
# norm in G and D, and WGAN-GP's penalty through D's batch norm); a run started on
# 2 ranks resumes on one process; with train.tensorboard rank 0 alone writes the events file;
# ranks given different configurations are refused; a rank that dies stops the job within a
# bounded time naming it, and the last checkpoint stays intact.
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

# synchronized batch norm: 2 ranks against one process on the whole batch (no accumulation),
# to float32 rounding. SGD, so that a gradient that is 0 but for rounding (a bias before batch
# norm) moves its weight by lr times that rounding, not by Adam's lr whatever its size; the
# weights then stay within ~1e-7 (tests/test_ranks.c derives the bound): 1e-5 of max(1, each
# tensor's largest) leaves a wide margin, and per-shard batch norm misses it by far.
SGD="optim.g.type=sgd optim.d.type=sgd optim.g.lr=0.01 optim.d.lr=0.01"
for case in "sync-bn:$SMALL_DCGAN train.steps=4 $SGD" \
            "sync-bn-gp:$SMALL_DCGAN train.steps=4 $SGD loss.type=wgan penalty.gp=10"; do
    name=${case%%:*}; words=${case#*:}
    # shellcheck disable=SC2086
    train "$mpirun" "$dir/$name-ranks" configs/dcgan-fmnist.ini $words train.sync_bn=true
    check "$name: 2 ranks train" test $? -eq 0
    # shellcheck disable=SC2086
    train "" "$dir/$name-whole" configs/dcgan-fmnist.ini $words
    check "$name: one process on the whole batch trains" test $? -eq 0
    check "$name: 2 synced ranks = the whole batch, to float32 rounding" \
        "$same" --tol 1e-5 "$dir/$name-ranks/checkpoint.safetensors" "$dir/$name-whole/checkpoint.safetensors"
    # shellcheck disable=SC2086
    train "$mpirun" "$dir/$name-shards" configs/dcgan-fmnist.ini $words
    check "$name: per-shard batch norm is told apart" \
        sh -c '! "$0" --tol 1e-5 "$1" "$2" > /dev/null' "$same" \
        "$dir/$name-shards/checkpoint.safetensors" "$dir/$name-whole/checkpoint.safetensors"
done

# resumed with another split: 2 ranks for 10 steps, then one process (accumulate 2) to 20
train "$mpirun" "$dir/resume" configs/gan-ring.ini model.g.width=32 model.d.width=32 train.batch=64 train.steps=10
"$gantry" train --resume "$dir/resume" --quiet train.steps=20 train.accumulate=2 > "$dir/resume.log" 2>&1
check "2 ranks then one process = 2 ranks throughout" \
    "$same" "$dir/resume/checkpoint.safetensors" "$dir/ring-ranks/checkpoint.safetensors"

# TensorBoard on 2 ranks: rank 0 alone writes one events file, with the numbers of metrics.jsonl
$mpirun "$gantry" train --config configs/gan-ring.ini --out "$dir/tb" --quiet train.steps=10 \
    train.log_every=5 train.sample_every=5 train.eval_every=0 train.threads=1 \
    train.tensorboard=true > "$dir/tb.log" 2>&1
check "train.tensorboard on 2 ranks trains" test $? -eq 0
check "...rank 0 alone writes one events file" test "$(ls "$dir/tb/tb" | wc -l)" -eq 1
check "...holding the numbers of metrics.jsonl and the grids (tests/tensorboard/read_events.py)" \
    /usr/bin/python3 tests/tensorboard/read_events.py "$dir/tb" 1

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
