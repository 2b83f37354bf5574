/* gantry classifier: retrains the Fashion-MNIST feature network of the image metrics
 * reproducibly (train) and reports a weights file's test accuracy (eval). */
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "cli.h"
#include "options.h"
#include "data/data.h"
#include "eval/classifier.h"

#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"
#define DEFAULT_EPOCHS 5

static void train_help(void *ctx) {
    (void)ctx;
    printf("usage: gantry classifier train --out FILE [--data DIR] [--epochs N] [--seed S]\n\n"
           "  --out FILE    where to write the weights (safetensors, written atomically)\n"
           "  --data DIR    an MNIST-format directory with train and t10k IDX files\n"
           "                (default %s)\n"
           "  --epochs N    passes over the training split (default %d)\n"
           "  --seed S      seed of the initial weights and the batch order (default 0)\n"
           "Trains %s\n"
           "with cross-entropy, Adam lr 1e-3, batch 128; prints each epoch's loss and test accuracy.\n"
           "The same arguments give the same weights.\n",
           DEFAULT_DATA, DEFAULT_EPOCHS, GT_CLASSIFIER_ARCH);
}

static void eval_help(void *ctx) {
    (void)ctx;
    printf("usage: gantry classifier eval [--model FILE] [--data DIR]\n\n"
           "  --model FILE  weights written by gantry classifier train (default %s;\n"
           "                when FILE does not exist, $%s/<its base name> is tried)\n"
           "  --data DIR    an MNIST-format directory; its t10k split is scored (default %s)\n"
           "Prints the accuracy on the test split and what the weights file records.\n",
           GT_CLASSIFIER_DEFAULT_PATH, GT_CLASSIFIER_MODELS_ENV, DEFAULT_DATA);
}

static int run_train(const char *data, const char *out, long long epochs, long long seed) {
    gt_error err;
    gt_dataset *train = gt_data_load_mnist_dir(data, "train", &err);
    gt_dataset *test = train ? gt_data_load_mnist_dir(data, "test", &err) : NULL;
    gt_classifier *c = test ? gt_classifier_new() : NULL;
    double t0 = gt_monotonic_s();
    int rc = c ? gt_classifier_train(c, train, test, (int)epochs, (uint64_t)seed, stdout, &err) : -1;
    double secs = gt_monotonic_s() - t0;
    if (rc == 0) rc = gt_classifier_save(c, out, &err);
    if (rc == 0)
        printf("wrote %s: test accuracy %.2f%% after %lld epochs in %.1f s\n", out,
               100 * gt_classifier_test_accuracy(c), epochs, secs);
    gt_classifier_free(c);
    gt_dataset_free(test);
    gt_dataset_free(train);
    gt_runtime_free();
    return rc < 0 ? gt_cli_fail("%s", err.msg) : 0;
}

static int cmd_train(int argc, char **argv) {
    const char *data = DEFAULT_DATA, *out = NULL;
    long long epochs = DEFAULT_EPOCHS, seed = 0;
    const gt_opt opts[] = {
        GT_OPT_TEXT_("--data", &data, "a directory"),
        GT_OPT_TEXT_("--out", &out, "a file"),
        GT_OPT_INT_("--epochs", &epochs, 1, 1000, NULL),
        GT_OPT_INT_("--seed", &seed, 0, 0, NULL),
        GT_OPT_END,
    };
    gt_opts p = {"classifier train", opts, train_help, NULL, NULL};
    int rc = gt_opts_parse(&p, argc, argv);
    if (rc) return rc == GT_OPTS_DONE ? 0 : rc;
    if (!out) return gt_cli_usage("classifier train", "needs --out FILE");
    return run_train(data, out, epochs, seed);
}

static int run_eval(const char *model, const char *data) {
    gt_error err;
    gt_classifier *c = gt_classifier_new();
    gt_dataset *test = NULL;
    int rc = gt_classifier_load(c, model, &err);
    if (rc == 0 && !(test = gt_data_load_mnist_dir(data, "test", &err))) rc = -1;
    if (rc == 0 && (test->c != 1 || test->h != GT_CLASSIFIER_SIDE || test->w != GT_CLASSIFIER_SIDE ||
                    !test->labels))
        rc = gt_error_set(&err, "%s: expected labelled 1x28x28 images, got %dx%dx%d", data,
                          test->c, test->h, test->w);
    if (rc == 0) {
        double recorded = gt_classifier_test_accuracy(c);
        printf("model          %s\narchitecture   %s\nfeatures       %d\nrecipe         %s\n", model,
               GT_CLASSIFIER_ARCH, GT_CLASSIFIER_FEATURES, gt_classifier_recipe(c));
        if (recorded >= 0) printf("recorded       %.2f%%\n", 100 * recorded);
        printf("test accuracy  %.2f%% (N = %lld, %s)\n", 100 * gt_classifier_accuracy(c, test),
               (long long)test->n, data);
    }
    gt_dataset_free(test);
    gt_classifier_free(c);
    gt_runtime_free();
    return rc < 0 ? gt_cli_fail("%s", err.msg) : 0;
}

static int cmd_eval(int argc, char **argv) {
    const char *model = GT_CLASSIFIER_DEFAULT_PATH, *data = DEFAULT_DATA;
    const gt_opt opts[] = {
        GT_OPT_TEXT_("--model", &model, "a file"),
        GT_OPT_TEXT_("--data", &data, "a directory"),
        GT_OPT_END,
    };
    gt_opts p = {"classifier eval", opts, eval_help, NULL, NULL};
    int rc = gt_opts_parse(&p, argc, argv);
    if (rc) return rc == GT_OPTS_DONE ? 0 : rc;
    return run_eval(model, data);
}

int gt_cmd_classifier(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "train") == 0) return cmd_train(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "eval") == 0) return cmd_eval(argc - 1, argv + 1);
    bool help = argc >= 2 && gt_cli_is_help(argv[1]);
    fprintf(help ? stdout : stderr,
            "usage: gantry classifier train|eval [options]   (gantry classifier train --help)\n\n"
            "  train   retrain the Fashion-MNIST feature network of the image metrics\n"
            "  eval    print a weights file's accuracy on the test split\n");
    if (!help && argc >= 2) fprintf(stderr, "\ngantry classifier: unknown subcommand '%s'\n", argv[1]);
    return help ? 0 : 2;
}
