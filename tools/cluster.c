/* gt_cluster (cluster.h): MPI in a build with make MPI=1 (GANTRY_MPI defined, mpicc's flags),
 * a job of one process otherwise. */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef GANTRY_MPI
#include <mpi.h>

/* Open MPI's mpirun, MPICH's hydra, and Slurm's srun (PMI or PMIx) each set one of these. */
static bool launched_by_mpi(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

static int local_ranks(void) {
    MPI_Comm node;
    int n = 1;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) != MPI_SUCCESS)
        return 1;
    MPI_Comm_size(node, &n);
    MPI_Comm_free(&node);
    return n;
}

int gt_cluster_start(gt_cluster *c) {
    *c = (gt_cluster){.rank = 0, .size = 1, .local_size = 1, .mpi = false};
    if (!launched_by_mpi()) return 0;
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
        fprintf(stderr, "gantry: MPI_Init failed\n");
        return -1;
    }
    c->mpi = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    c->local_size = local_ranks();
    return 0;
}

bool gt_cluster_all_ok(const gt_cluster *c, bool ok, char *failed, size_t cap) {
    if (cap) failed[0] = '\0';
    if (!c->mpi) return ok;
    int mine = ok ? 1 : 0;
    int *all = calloc((size_t)c->size, sizeof *all);
    if (!all) MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Allgather(&mine, 1, MPI_INT, all, 1, MPI_INT, MPI_COMM_WORLD);
    bool every = true;
    size_t len = 0;
    for (int r = 0; r < c->size; r++) {
        if (all[r]) continue;
        every = false;
        if (len < cap) len += (size_t)snprintf(failed + len, cap - len, "%s%d", len ? ", " : "", r);
    }
    free(all);
    return every;
}

void gt_cluster_stop(gt_cluster *c) {
    if (c->mpi) MPI_Finalize();
    c->mpi = false;
}

/* MPI's counts are ints: a message of more floats is refused with a message. */
static int count_of(int64_t n, int size, int *count, gt_error *err) {
    if (n < 0 || n * size > 2147483647)
        return gt_error_set(err, "an exchange of %lld floats per rank is beyond MPI's int counts",
                            (long long)n);
    *count = (int)n;
    return 0;
}

static int mpi_failed(int rc, const char *what, gt_error *err) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return gt_error_set(err, "rank %d: %s failed: %s", rank, what, msg);
}

static int mpi_allgather(void *ctx, const float *in, int64_t n, float *out, gt_error *err) {
    const gt_cluster *c = ctx;
    int count = 0, rc;
    if (count_of(n, c->size, &count, err) < 0) return -1;
    rc = MPI_Allgather(in, count, MPI_FLOAT, out, count, MPI_FLOAT, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : mpi_failed(rc, "MPI_Allgather", err);
}

static int mpi_alltoall(void *ctx, const float *in, int64_t n, float *out, gt_error *err) {
    const gt_cluster *c = ctx;
    int count = 0, rc;
    if (count_of(n, c->size, &count, err) < 0) return -1;
    rc = MPI_Alltoall(in, count, MPI_FLOAT, out, count, MPI_FLOAT, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : mpi_failed(rc, "MPI_Alltoall", err);
}

void gt_cluster_comm(const gt_cluster *c, gt_comm *comm) {
    *comm = (gt_comm){.rank = c->rank, .size = c->size, .allgather = mpi_allgather,
                      .alltoall = mpi_alltoall, .ctx = (void *)c};
}

#else /* the default build: a job of one process */

int gt_cluster_start(gt_cluster *c) {
    *c = (gt_cluster){.rank = 0, .size = 1, .local_size = 1, .mpi = false};
    return 0;
}

bool gt_cluster_all_ok(const gt_cluster *c, bool ok, char *failed, size_t cap) {
    (void)c;
    if (cap) failed[0] = '\0';
    return ok;
}

void gt_cluster_stop(gt_cluster *c) { c->mpi = false; }

void gt_cluster_comm(const gt_cluster *c, gt_comm *comm) {
    *comm = (gt_comm){.rank = c->rank, .size = c->size};
}

#endif
