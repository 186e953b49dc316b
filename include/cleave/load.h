/*
 * cleave — reading and writing models: ONNX, darknet, and the model zoo.
 *
 * Every loader returns a finalized graph (see graph.h) that the caller owns
 * and frees with clv_graph_free(). On failure *out is set to NULL and `err`
 * holds a sentence that starts with the file name and says what is wrong
 * ("yolo.cfg:57: [route] layers=-40 points before the first layer").
 */
#ifndef CLEAVE_LOAD_H
#define CLEAVE_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "cleave/error.h"
#include "cleave/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits that protect the loaders from hostile files. */
#define CLV_LOAD_MAX_FILE ((uint64_t)4 << 30)  /* bytes of one model file */
/* bytes of one .onnx file: protobuf's own 2 GiB limit (larger ONNX models
 * keep their weights in external data files, which are read separately) */
#define CLV_ONNX_MAX_FILE ((uint64_t)2 << 30)
#define CLV_LOAD_MAX_NODES 100000

/* ---- ONNX -------------------------------------------------------------- */

/* Loads an ONNX model file (opsets 7 to 17 of the default domain).
 * Initializers may be in raw_data, in the typed fields, or in external data
 * files next to the model. Symbolic or unknown input dims are taken as 1.
 * An op cleave does not support is an error naming the op, the node and the
 * opset. Returns 0, CLV_EIO, CLV_EFORMAT, CLV_EUNSUPPORTED, or any error of
 * clv_graph_finalize(). */
int clv_load_onnx(const char *path, clv_graph **out, clv_error *err);

/* As clv_load_onnx, from `len` bytes at `buf` (borrowed). `label` names the
 * model in messages (may be NULL). External data files are looked up in
 * directory `dir`; with dir NULL, a model that refers to external data is an
 * error. */
int clv_load_onnx_mem(const void *buf, size_t len, const char *label,
                      const char *dir, clv_graph **out, clv_error *err);

/* Writes a finalized graph as an ONNX model (IR version 8, opset 13; 14 or
 * 15 only when HardSwish, Reshape allowzero or Shape start/end need it) that
 * ONNX's checker accepts; weights are stored inline as raw_data. Darknet's
 * Reorg, Region and Yolo ops are written in the "ai.cleave" domain.
 * Returns 0, CLV_EINVAL (not finalized), CLV_EIO (with the path and
 * strerror) or CLV_ENOMEM. */
int clv_save_onnx(const clv_graph *g, const char *path, clv_error *err);

/* ---- darknet ----------------------------------------------------------- */

/* Loads a darknet network description `cfg_path` and, when `weights_path`
 * is not NULL, its .weights file; otherwise the weights are random, drawn
 * from a generator seeded by `seed` (same seed, same weights). Returns 0,
 * CLV_EIO, CLV_EFORMAT (with file and line), CLV_EUNSUPPORTED (a section or
 * activation cleave does not know), or any error of clv_graph_finalize(). */
int clv_load_darknet(const char *cfg_path, const char *weights_path,
                     uint64_t seed, clv_graph **out, clv_error *err);

/* As clv_load_darknet, from memory: `cfg` holds `cfg_len` bytes of .cfg text
 * and `weights` (may be NULL) `weights_len` bytes of a .weights file; both
 * borrowed. `label` names the model in messages (may be NULL). */
int clv_load_darknet_mem(const char *cfg, size_t cfg_len,
                         const void *weights, size_t weights_len,
                         uint64_t seed, const char *label, clv_graph **out,
                         clv_error *err);

/* ---- any model --------------------------------------------------------- */

/* Loads `path` by its extension: .onnx (ONNX) or .cfg (darknet, with
 * seeded random weights, or with the .weights file of the same stem when one
 * exists beside it). Other extensions: CLV_EUNSUPPORTED. */
int clv_load_model(const char *path, clv_graph **out, clv_error *err);

/* ---- labelled data sets ------------------------------------------------ */

/* Images and their labels, as the IDX files of MNIST and Fashion-MNIST
 * hold them (unsigned bytes; gzip-compressed or plain). */
typedef struct clv_dataset {
    int64_t count;     /* images */
    int64_t channels;  /* 1 for IDX (grey) */
    int64_t rows, cols;
    uint8_t *pixels;   /* count x channels x rows x cols, owned */
    uint8_t *labels;   /* count labels, owned; NULL when none were read */
    char *name;        /* the images file, owned */
} clv_dataset;

#define CLV_DATASET_FASHION_MNIST "/usr/share/datasets/fashion-mnist"

/* Reads a labelled data set. `path` is an IDX images file (idx3, unsigned
 * bytes, .gz or not), or a directory holding MNIST-style files, of which
 * the test split (t10k-images-idx3-ubyte[.gz] and its labels) is read, or
 * the word "fashion-mnist" for Debian's dataset-fashion-mnist. `labels` is
 * the labels file (idx1), or NULL to take the images file's name with
 * "images-idx3" turned into "labels-idx1" when that file exists (a data set
 * without labels is allowed: labels is then NULL). The counts must agree.
 * Returns 0 with *out to free with
 * clv_dataset_free(), or CLV_EIO (unreadable, naming the file),
 * CLV_EFORMAT (not IDX unsigned bytes, truncated, counts that disagree),
 * CLV_ELIMIT (past 2^32 bytes of pixels) or CLV_ENOMEM. */
int clv_dataset_load(const char *path, const char *labels, clv_dataset **out,
                     clv_error *err);

/* Frees the data set. NULL is allowed. */
void clv_dataset_free(clv_dataset *d);

/* Image i (0 <= i < count) as float32 pixel / 255, channels x rows x cols
 * values into out: the trained models' input convention (docs/codec.md). */
void clv_dataset_image(const clv_dataset *d, int64_t i, float *out);

/* ---- the model zoo ----------------------------------------------------- */

/* The zoo writes, with seeded random weights, the networks of the papers:
 * "nin", "tiny-yolov2", "vgg16", "alexnet", "resnet18" (the DNN Surgery
 * paper's set), "mobilenet-v2", "googlenet", "resnet50" and "lenet". */

/* Number of zoo models, and the name and one-line description of model i
 * (NULL when out of range). */
int clv_zoo_count(void);
const char *clv_zoo_name(int i);
const char *clv_zoo_describe(int i);

/* Builds zoo model `name` with weights drawn from a generator seeded by
 * `seed`, at input size `hw`×`hw` (0 = the model's default: 224, 416 for
 * tiny-yolov2, 28 for lenet). Returns a finalized graph in *out; fails with
 * CLV_ENOTFOUND (unknown name, the message lists the known ones),
 * CLV_ERANGE (an input size the network cannot take) or CLV_ENOMEM. */
int clv_zoo_build(const char *name, uint64_t seed, int64_t hw,
                  clv_graph **out, clv_error *err);

#ifdef __cplusplus
}
#endif
#endif
