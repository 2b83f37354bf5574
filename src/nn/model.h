/* Networks for G and D, built by model families chosen by name from a registry. A family
 * declares its layers into the model's parameter table and runs a forward pass over a gt_fwd;
 * the trainer sees only this interface, so new families (residual, progressive, style-based)
 * join by adding a registry entry. */
#ifndef GT_NN_MODEL_H
#define GT_NN_MODEL_H

#include "nn/layers.h"

typedef enum { GT_ROLE_GENERATOR, GT_ROLE_DISCRIMINATOR } gt_role;

/* Everything a family needs to build one network. */
typedef struct gt_net_spec {
    gt_role role;
    char family[64];        /* "dcgan", "mlp" */
    int64_t z_dim;          /* generators: latent size */
    int64_t width;          /* base channels (dcgan) or hidden width (mlp) */
    int64_t depth;          /* hidden layers (mlp) */
    char activation[64];    /* relu | leaky_relu | tanh | maxout (mlp hidden layers) */
    int maxout_pieces;      /* mlp with activation maxout: pieces per unit (>= 2); 0 otherwise */
    bool no_hidden_bias;    /* mlp: hidden linear layers without bias (PacGAN's G, before batch norm) */
    char norm[64];          /* batch | layer | none | vbn (generators, with vbn_ref) */
    char init[64];          /* normal | kaiming | xavier | orthogonal */
    double init_std;        /* for normal */
    int c, h, w;            /* the data: images [c, h, w]; 2-D points c = 2, h = w = 1 */
    /* Architecture tricks (all off when zero). */
    bool spectral_norm;     /* W / sigma(W) on every linear and (transposed) conv weight */
    int sn_iterations;      /* power iterations per training forward (>= 1 when on) */
    int mbstd_group;        /* D: minibatch std group size (0: off) */
    int mbstd_channels;     /* D: minibatch std feature maps appended */
    int mbdisc_kernels;     /* D: minibatch discrimination kernels B (0: off) */
    int mbdisc_dim;         /* D: their dimension C */
    int64_t batch;          /* the batch D sees in training (0: unknown; checked against mbstd_group) */
    int vbn_ref;            /* G: virtual batch norm's reference latents N_ref (norm "vbn"; 0: off) */
    int attention;          /* dcgan: side of the feature map followed by self-attention (0: off) */
    /* Class-conditional (0: off): G's batch norms become conditional batch norms (per-class
     * gamma and beta), D adds the projection <embed(y), features> to its logit; the labels
     * come through gt_fwd.labels. Only families with `conditional` set accept it. */
    int n_classes;
    /* The family's own options (stylegan2: gt_stylegan2_options, nn/stylegan2.h), copied by
     * build into the family's state (the built model's spec holds NULL); NULL: the defaults. */
    const void *family_options;
    char section[16];       /* the configuration section, for messages ("model.d") */
} gt_net_spec;

typedef struct gt_model gt_model;

/* Some families keep state in their own arch that is set from outside between forwards; the
 * gt_model_* accessors below reach it through the family's hooks.
 *
 * Progressive growing: the resolution the forward runs at and the fade-in weight alpha of its
 * newest block. Build sets the final resolution and alpha 1; the trainer's schedule sets them
 * before a step. */
typedef struct gt_growth {
    int res;
    double alpha;
} gt_growth;
/* Style-based generators: the controls the family keeps in its own state. count: the style
 * layers num_ws; rng, when set, draws the randomness of training forwards (stylegan2: per-pixel
 * noise and style mixing; NULL: the constant noise buffers, no mixing); truncation w_avg +
 * psi (w - w_avg) on the first `cutoff` style layers (all when < 0), off at psi 1 (build's). */
typedef struct gt_style_hooks {
    int (*count)(const gt_model *m);
    void (*set_rng)(gt_model *m, gt_rng *rng);
    gt_rng *(*rng)(const gt_model *m);
    void (*set_truncation)(gt_model *m, double psi, int cutoff);
} gt_style_hooks;

struct gt_describer;  /* nn/describe.h */

typedef struct gt_model_family {
    const char *name;
    /* Declares the layers of the network described by m->spec into m->params and stores the
     * family's own layout in m->arch (malloc'd); returns -1 with err set if the spec is bad. */
    int (*build)(gt_model *m, gt_error *err);
    /* G: z [N, z_dim] -> x [N, c, h, w] ([N, 2] for points). D: x -> logits [N, 1]. When
     * features is not NULL, D also sets it to the input of its last linear layer [N, F]: the
     * last hidden activation, with the minibatch std and minibatch discrimination features
     * appended when they are on. */
    gt_tensor *(*forward)(const gt_model *m, const gt_fwd *f, gt_tensor *x, gt_tensor **features);
    /* Optional (NULL in most families): adjusts the weights after the common initialisation. */
    void (*init)(gt_model *m, gt_rng *rng);
    /* Optional, style-based generators: the mapping z [N, z_dim] -> ws [N, num_ws, w_dim]
     * (truncated as gt_model_set_truncation says; a training forward updates w_avg and mixes
     * styles) and the synthesis ws -> x [N, c, h, w]; forward(z) = synthesis(mapping(z)). */
    gt_tensor *(*mapping)(const gt_model *m, const gt_fwd *f, gt_tensor *z);
    gt_tensor *(*synthesis)(const gt_model *m, const gt_fwd *f, gt_tensor *ws);
    /* Optional: the family's growth state, for the families trained on progressive growing's
     * schedule (G and D both), and the style controls of a style-based generator. */
    gt_growth *(*growth)(const gt_model *m);
    const gt_style_hooks *style;
    /* Optional, generators: G's evaluation forward described layer by layer to an exporter
     * (nn/describe.h): z is the latent's handle, the result the image's (a gt_sym). */
    int (*describe)(const gt_model *m, struct gt_describer *d, int z);
    bool conditional;       /* accepts spec.n_classes > 0 */
} gt_model_family;

struct gt_model {
    gt_net_spec spec;
    const gt_model_family *family;
    gt_params params;
    void *arch;             /* the family's own layout and state, made by build */
};

const gt_model_family *gt_model_family_find(const char *name);
/* The configuration section a spec came from, for error messages: spec.section, else model.g
 * or model.d by role. */
const char *gt_net_spec_section(const gt_net_spec *s);
const char *gt_model_family_names(void);  /* "dcgan|mlp|progressive|resnet|stylegan2" */
/* Builds and finalizes the network in the arena and initialises its weights from rng. */
int gt_model_build(gt_model *m, const gt_net_spec *spec, gt_arena *arena, gt_rng *rng, gt_error *err);
void gt_model_release(gt_model *m);
gt_tensor *gt_model_forward(const gt_model *m, const gt_fwd *f, gt_tensor *x, gt_tensor **features);

/* Progressive growing (families with a growth hook; the setters abort on others). */
bool gt_model_grows(const gt_model *m);
void gt_model_set_growth(gt_model *m, int res, double alpha);
int gt_model_growth_res(const gt_model *m);
double gt_model_growth_alpha(const gt_model *m);
/* Style-based generators (families with style hooks; the setters abort on others). */
int gt_model_style_count(const gt_model *m);  /* num_ws; 0 when not style-based */
void gt_model_set_style_rng(gt_model *m, gt_rng *rng);
gt_rng *gt_model_style_rng(const gt_model *m);
void gt_model_set_truncation(gt_model *m, double psi, int cutoff);

/* Families, one per line of families.def (model.c builds the registry from it). */
#define GT_FAMILY(name) extern const gt_model_family gt_family_##name;
#include "nn/families.def"
#undef GT_FAMILY

/* Shared by families: an optional normalisation layer chosen by name. */
typedef struct {
    enum { GT_NORM_NONE, GT_NORM_BATCH, GT_NORM_LAYER, GT_NORM_VIRTUAL, GT_NORM_COND } kind;
    gt_batchnorm_layer bn;
    gt_layernorm_layer ln;
    gt_vbn_layer vbn;       /* needs the table's reference latents declared first */
    gt_cbn_layer cbn;       /* conditional batch norm (gt_norm_declare_classes) */
} gt_norm_layer;
int gt_norm_declare(gt_norm_layer *n, const char *kind, gt_params *p, const char *name,
                    int ndim, const int64_t *shape, gt_error *err); /* shape: one sample's */
gt_tensor *gt_norm_forward(const gt_norm_layer *n, const gt_fwd *f, gt_tensor *x);
/* gt_norm_declare, or with classes > 0 conditional batch norm ("batch" only; err otherwise:
 * `section` names the key in the message). */
int gt_norm_declare_classes(gt_norm_layer *n, const char *kind, gt_params *p, const char *name,
                            int ndim, const int64_t *shape, int classes, const char *section,
                            gt_error *err);

/* Shared by the families that build resolution by resolution (progressive, stylegan2): the
 * levels 4, 8, ..., res of a pyramid ending at side res, or -1 when res is not 4 times a power
 * of two. */
int gt_pyramid_levels(int res);

/* Shared by families: the architecture tricks of a spec. gt_arch_tricks_check validates them
 * (feature_channels: the channels mbstd splits into groups); gt_batch_tricks_declare declares
 * minibatch discrimination over `in` features (when on) and returns the features added. */
int gt_arch_tricks_check(const gt_net_spec *s, int64_t feature_channels, gt_error *err);
typedef struct {
    gt_mbstd_layer mbstd;     /* group 0: off */
    bool has_mbdisc;
    gt_mbdisc_layer mbdisc;
} gt_batch_tricks;
int64_t gt_batch_tricks_declare(gt_batch_tricks *b, const gt_net_spec *s, gt_params *p,
                                int64_t in);
/* mbstd on h ([N, C, H, W] or [N, F]); the result is flattened by the caller. */
gt_tensor *gt_batch_tricks_mbstd(const gt_batch_tricks *b, gt_tensor *h);
/* minibatch discrimination on flat features [N, F]. */
gt_tensor *gt_batch_tricks_mbdisc(const gt_batch_tricks *b, const gt_fwd *f, gt_tensor *h);

#endif
