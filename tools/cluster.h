/* The processes of one gantry ablate job: under `mpirun -np K` (a build with make MPI=1) each
 * rank learns its number and the job's size; otherwise (the default, MPI-free build, or an MPI
 * build started without mpirun) the job is this process alone. The library knows nothing of
 * MPI: only the CLI calls these. */
#ifndef GT_TOOLS_CLUSTER_H
#define GT_TOOLS_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#include "gan/gan.h"

typedef struct gt_cluster {
    int rank, size;   /* 0 and 1 without MPI */
    int local_size;   /* ranks on this machine, which share its cores */
    bool mpi;         /* MPI was started (and must be finalized) */
} gt_cluster;

/* Starts MPI when an MPI launcher started this process; 0, or -1 with a message printed. */
int gt_cluster_start(gt_cluster *c);
/* Collective: whether every rank's ok is true; when not, `failed` lists the ranks that were
 * not ("1, 3"). Without MPI: ok itself. */
bool gt_cluster_all_ok(const gt_cluster *c, bool ok, char *failed, size_t cap);
void gt_cluster_stop(gt_cluster *c);
/* The exchange data-parallel training uses (gan.h's gt_comm): MPI_Allgather and MPI_Alltoall
 * over every rank of the job. Only for a job of several ranks. */
void gt_cluster_comm(const gt_cluster *c, gt_comm *comm);

#endif
