/*
 * The model zoo: the networks of the papers, written with the graph
 * builder (zoo_build.h) and seeded random weights.
 *
 * Each network follows a reference definition layer for layer, and its node
 * and weight names follow that definition's module names (torchvision's
 * "layer1.0.conv1", caffe's "cccp1", darknet's layer numbers), so that a
 * user sees familiar names and later comparisons against PyTorch or ONNX
 * Runtime line up. docs/zoo.md lists the sources and the measured sizes.
 */
#include <stdio.h>
#include <string.h>

#include "cleave/load.h"
#include "load/zoo_build.h"

/* The largest input side the zoo builds (beyond it, activations of the
 * larger networks run into many gigabytes). */
#define ZOO_MAX_HW 4096

/* ---- adaptive average pooling ----------------------------------------- */

/* torchvision's AdaptiveAvgPool2d((size, size)) is a plain AveragePool with
 * kernel = stride = n / size when the n x n input is a multiple of `size`
 * (torch.onnx exports it so); other inputs it pools over uneven windows,
 * which ONNX has no operator for. `feat` maps an input side to the side of
 * the feature map that reaches the pool, to suggest input sizes that work. */
static clv_zoo_val zoo_adaptive_avg(clv_zoo_builder *b, clv_zoo_val x,
                                    int64_t size, int64_t (*feat)(int64_t),
                                    const char *name)
{
    if (b->rc)
        return x;
    if (x.h < size || x.h % size != 0 || x.w != x.h) {
        char hint[160] = "";
        size_t used = 0;
        int ranges = 0;
        for (int64_t hw = 1; hw <= ZOO_MAX_HW && ranges < 2; hw++) {
            int64_t f = feat(hw);
            if (f < size || f % size != 0)
                continue;
            int64_t last = hw;
            while (last + 1 <= ZOO_MAX_HW && feat(last + 1) == f)
                last++;
            int n = snprintf(hint + used, sizeof hint - used,
                             "%s%lld to %lld (%lldx%lld)",
                             ranges ? ", " : "", (long long)hw,
                             (long long)last, (long long)f, (long long)f);
            if (n < 0 || (size_t)n >= sizeof hint - used)
                break;
            used += (size_t)n;
            ranges++;
            hw = last;
        }
        clv_zoo__fail(b, CLV_ERANGE,
                      "the features reach '%s' as a %lldx%lld map, but its "
                      "AdaptiveAvgPool2d((%lld, %lld)) is a plain AveragePool "
                      "only for maps whose side is a multiple of %lld; input "
                      "sides that work: %s, ...",
                      name, (long long)x.h, (long long)x.w, (long long)size,
                      (long long)size, (long long)size, hint);
        return x;
    }
    int64_t k = x.h / size;
    return clv_zoo__pool(b, CLV_OP_AVERAGEPOOL, x, k, k, 0, 0, false, "%s",
                         name);
}

/* ---- AlexNet (torchvision.models.alexnet) ------------------------------ */

static int64_t alexnet_feat(int64_t hw)
{
    int64_t h = clv_zoo__win_out(hw, 11, 4, 2, 2, false);
    h = clv_zoo__win_out(h, 3, 2, 0, 0, false);
    h = clv_zoo__win_out(h, 5, 1, 2, 2, false);
    h = clv_zoo__win_out(h, 3, 2, 0, 0, false);
    return clv_zoo__win_out(h, 3, 2, 0, 0, false); /* 3x3 convs keep size */
}

static clv_zoo_val net_alexnet(clv_zoo_builder *b, clv_zoo_val x)
{
    x = clv_zoo__conv(b, x, 64, 11, 4, 2, 1, true, "features.0");
    x = clv_zoo__unary(b, CLV_OP_RELU, x, "features.1");
    x = clv_zoo__pool(b, CLV_OP_MAXPOOL, x, 3, 2, 0, 0, false, "features.2");
    x = clv_zoo__conv(b, x, 192, 5, 1, 2, 1, true, "features.3");
    x = clv_zoo__unary(b, CLV_OP_RELU, x, "features.4");
    x = clv_zoo__pool(b, CLV_OP_MAXPOOL, x, 3, 2, 0, 0, false, "features.5");
    x = clv_zoo__conv(b, x, 384, 3, 1, 1, 1, true, "features.6");
    x = clv_zoo__unary(b, CLV_OP_RELU, x, "features.7");
    x = clv_zoo__conv(b, x, 256, 3, 1, 1, 1, true, "features.8");
    x = clv_zoo__unary(b, CLV_OP_RELU, x, "features.9");
    x = clv_zoo__conv(b, x, 256, 3, 1, 1, 1, true, "features.10");
    x = clv_zoo__unary(b, CLV_OP_RELU, x, "features.11");
    x = clv_zoo__pool(b, CLV_OP_MAXPOOL, x, 3, 2, 0, 0, false, "features.12");
    x = zoo_adaptive_avg(b, x, 6, alexnet_feat, "avgpool");
    x = clv_zoo__unary(b, CLV_OP_FLATTEN, x, "flatten");
    x = clv_zoo__unary(b, CLV_OP_DROPOUT, x, "classifier.0");
    x = clv_zoo__gemm(b, x, 4096, "classifier.1");
    x = clv_zoo__unary(b, CLV_OP_RELU, x, "classifier.2");
    x = clv_zoo__unary(b, CLV_OP_DROPOUT, x, "classifier.3");
    x = clv_zoo__gemm(b, x, 4096, "classifier.4");
    x = clv_zoo__unary(b, CLV_OP_RELU, x, "classifier.5");
    clv_zoo__last(b);
    return clv_zoo__gemm(b, x, 1000, "classifier.6");
}

/* ---- VGG-16 (torchvision.models.vgg16, configuration "D", no BN) ------- */

static int64_t vgg16_feat(int64_t hw)
{
    for (int i = 0; i < 5; i++) /* padded 3x3 convs keep size */
        hw = clv_zoo__win_out(hw, 2, 2, 0, 0, false);
    return hw;
}

static clv_zoo_val net_vgg16(clv_zoo_builder *b, clv_zoo_val x)
{
    /* Channels, 0 = MaxPool 2/2. */
    static const int cfg[] = {64,  64,  0,   128, 128, 0,   256, 256, 256, 0,
                              512, 512, 512, 0,   512, 512, 512, 0};
    int idx = 0;
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        if (cfg[i] == 0) {
            x = clv_zoo__pool(b, CLV_OP_MAXPOOL, x, 2, 2, 0, 0, false,
                              "features.%d", idx++);
        } else {
            x = clv_zoo__conv(b, x, cfg[i], 3, 1, 1, 1, true, "features.%d",
                              idx++);
            x = clv_zoo__unary(b, CLV_OP_RELU, x, "features.%d", idx++);
        }
    }
    x = zoo_adaptive_avg(b, x, 7, vgg16_feat, "avgpool");
    x = clv_zoo__unary(b, CLV_OP_FLATTEN, x, "flatten");
    x = clv_zoo__gemm(b, x, 4096, "classifier.0");
    x = clv_zoo__unary(b, CLV_OP_RELU, x, "classifier.1");
    x = clv_zoo__unary(b, CLV_OP_DROPOUT, x, "classifier.2");
    x = clv_zoo__gemm(b, x, 4096, "classifier.3");
    x = clv_zoo__unary(b, CLV_OP_RELU, x, "classifier.4");
    x = clv_zoo__unary(b, CLV_OP_DROPOUT, x, "classifier.5");
    clv_zoo__last(b);
    return clv_zoo__gemm(b, x, 1000, "classifier.6");
}

/* ---- ResNet (torchvision.models.resnet18 / resnet50, v1.5) -------------- */

/* One BasicBlock (bottleneck false) or Bottleneck (stride on the 3x3). */
static clv_zoo_val resnet_block(clv_zoo_builder *b, clv_zoo_val x,
                                bool bottleneck, int layer, int blk,
                                int64_t planes, int64_t stride)
{
    const float eps = 1e-5f;
    int64_t out = bottleneck ? planes * 4 : planes;
    clv_zoo_val y, id = x;
    if (bottleneck) {
        y = clv_zoo__conv(b, x, planes, 1, 1, 0, 1, false,
                          "layer%d.%d.conv1", layer, blk);
        y = clv_zoo__bn(b, y, eps, "layer%d.%d.bn1", layer, blk);
        y = clv_zoo__unary(b, CLV_OP_RELU, y, "layer%d.%d.relu", layer, blk);
        y = clv_zoo__conv(b, y, planes, 3, stride, 1, 1, false,
                          "layer%d.%d.conv2", layer, blk);
        y = clv_zoo__bn(b, y, eps, "layer%d.%d.bn2", layer, blk);
        y = clv_zoo__unary(b, CLV_OP_RELU, y, "layer%d.%d.relu_1", layer,
                           blk);
        y = clv_zoo__conv(b, y, out, 1, 1, 0, 1, false, "layer%d.%d.conv3",
                          layer, blk);
        y = clv_zoo__bn(b, y, eps, "layer%d.%d.bn3", layer, blk);
    } else {
        y = clv_zoo__conv(b, x, planes, 3, stride, 1, 1, false,
                          "layer%d.%d.conv1", layer, blk);
        y = clv_zoo__bn(b, y, eps, "layer%d.%d.bn1", layer, blk);
        y = clv_zoo__unary(b, CLV_OP_RELU, y, "layer%d.%d.relu", layer, blk);
        y = clv_zoo__conv(b, y, planes, 3, 1, 1, 1, false,
                          "layer%d.%d.conv2", layer, blk);
        y = clv_zoo__bn(b, y, eps, "layer%d.%d.bn2", layer, blk);
    }
    if (stride != 1 || x.c != out) {
        id = clv_zoo__conv(b, x, out, 1, stride, 0, 1, false,
                           "layer%d.%d.downsample.0", layer, blk);
        id = clv_zoo__bn(b, id, eps, "layer%d.%d.downsample.1", layer, blk);
    }
    y = clv_zoo__add(b, y, id, "layer%d.%d.add", layer, blk);
    return clv_zoo__unary(b, CLV_OP_RELU, y, "layer%d.%d.relu_%d", layer, blk,
                          bottleneck ? 2 : 1);
}

static clv_zoo_val net_resnet(clv_zoo_builder *b, clv_zoo_val x,
                              bool bottleneck, const int blocks[4])
{
    x = clv_zoo__conv(b, x, 64, 7, 2, 3, 1, false, "conv1");
    x = clv_zoo__bn(b, x, 1e-5f, "bn1");
    x = clv_zoo__unary(b, CLV_OP_RELU, x, "relu");
    x = clv_zoo__pool(b, CLV_OP_MAXPOOL, x, 3, 2, 1, 1, false, "maxpool");
    for (int l = 0; l < 4; l++)
        for (int k = 0; k < blocks[l]; k++)
            x = resnet_block(b, x, bottleneck, l + 1, k, (int64_t)64 << l,
                             (l > 0 && k == 0) ? 2 : 1);
    x = clv_zoo__unary(b, CLV_OP_GLOBALAVERAGEPOOL, x, "avgpool");
    x = clv_zoo__unary(b, CLV_OP_FLATTEN, x, "flatten");
    clv_zoo__last(b);
    return clv_zoo__gemm(b, x, 1000, "fc");
}

static clv_zoo_val net_resnet18(clv_zoo_builder *b, clv_zoo_val x)
{
    static const int blocks[4] = {2, 2, 2, 2};
    return net_resnet(b, x, false, blocks);
}

static clv_zoo_val net_resnet50(clv_zoo_builder *b, clv_zoo_val x)
{
    static const int blocks[4] = {3, 4, 6, 3};
    return net_resnet(b, x, true, blocks);
}

/* ---- MobileNetV2 (torchvision.models.mobilenet_v2, width 1.0) ---------- */

/* Conv2dNormActivation: conv (no bias), BN, ReLU6 as "<prefix>.0/1/2". */
static clv_zoo_val mbv2_cna(clv_zoo_builder *b, clv_zoo_val x, int64_t cout,
                            int64_t k, int64_t stride, int64_t group,
                            const char *prefix)
{
    x = clv_zoo__conv(b, x, cout, k, stride, (k - 1) / 2, group, false,
                      "%s.0", prefix);
    x = clv_zoo__bn(b, x, 1e-5f, "%s.1", prefix);
    return clv_zoo__clip(b, x, 0.0f, 6.0f, "%s.2", prefix);
}

static clv_zoo_val net_mobilenet_v2(clv_zoo_builder *b, clv_zoo_val x)
{
    static const int setting[7][4] = {/* t, c, n, s */
                                      {1, 16, 1, 1},  {6, 24, 2, 2},
                                      {6, 32, 3, 2},  {6, 64, 4, 2},
                                      {6, 96, 3, 1},  {6, 160, 3, 2},
                                      {6, 320, 1, 1}};
    char p[64];
    int idx = 1;
    x = mbv2_cna(b, x, 32, 3, 2, 1, "features.0");
    for (int s = 0; s < 7; s++) {
        for (int i = 0; i < setting[s][2]; i++, idx++) {
            int64_t t = setting[s][0], cout = setting[s][1];
            int64_t stride = i == 0 ? setting[s][3] : 1;
            int64_t hidden = x.c * t;
            int j = 0;
            clv_zoo_val y = x;
            if (t != 1) { /* pointwise expansion */
                snprintf(p, sizeof p, "features.%d.conv.%d", idx, j++);
                y = mbv2_cna(b, y, hidden, 1, 1, 1, p);
            }
            snprintf(p, sizeof p, "features.%d.conv.%d", idx, j++);
            y = mbv2_cna(b, y, hidden, 3, stride, hidden, p); /* depthwise */
            y = clv_zoo__conv(b, y, cout, 1, 1, 0, 1, false,
                              "features.%d.conv.%d", idx, j++);
            y = clv_zoo__bn(b, y, 1e-5f, "features.%d.conv.%d", idx, j++);
            if (stride == 1 && x.c == cout)
                y = clv_zoo__add(b, x, y, "features.%d.add", idx);
            x = y;
        }
    }
    snprintf(p, sizeof p, "features.%d", idx);
    x = mbv2_cna(b, x, 1280, 1, 1, 1, p);
    x = clv_zoo__unary(b, CLV_OP_GLOBALAVERAGEPOOL, x, "avgpool");
    x = clv_zoo__unary(b, CLV_OP_FLATTEN, x, "flatten");
    x = clv_zoo__unary(b, CLV_OP_DROPOUT, x, "classifier.0");
    clv_zoo__last(b);
    return clv_zoo__gemm(b, x, 1000, "classifier.1");
}

/* ---- GoogLeNet (torchvision.models.googlenet, no aux heads) ------------ */

/* BasicConv2d: conv (no bias), BN (eps 0.001), ReLU. */
static clv_zoo_val gn_basic(clv_zoo_builder *b, clv_zoo_val x, int64_t cout,
                            int64_t k, int64_t stride, int64_t pad,
                            const char *prefix)
{
    x = clv_zoo__conv(b, x, cout, k, stride, pad, 1, false, "%s.conv",
                      prefix);
    x = clv_zoo__bn(b, x, 1e-3f, "%s.bn", prefix);
    return clv_zoo__unary(b, CLV_OP_RELU, x, "%s.relu", prefix);
}

static clv_zoo_val gn_inception(clv_zoo_builder *b, clv_zoo_val x,
                                const char *name, int64_t ch1x1,
                                int64_t ch3x3red, int64_t ch3x3,
                                int64_t ch5x5red, int64_t ch5x5,
                                int64_t pool_proj)
{
    char p[64];
    clv_zoo_val br[4];
    snprintf(p, sizeof p, "%s.branch1", name);
    br[0] = gn_basic(b, x, ch1x1, 1, 1, 0, p);
    snprintf(p, sizeof p, "%s.branch2.0", name);
    br[1] = gn_basic(b, x, ch3x3red, 1, 1, 0, p);
    snprintf(p, sizeof p, "%s.branch2.1", name);
    br[1] = gn_basic(b, br[1], ch3x3, 3, 1, 1, p);
    /* torchvision's branch3 uses a 3x3 conv where the paper has 5x5
     * (pytorch/vision#906); the zoo follows torchvision. */
    snprintf(p, sizeof p, "%s.branch3.0", name);
    br[2] = gn_basic(b, x, ch5x5red, 1, 1, 0, p);
    snprintf(p, sizeof p, "%s.branch3.1", name);
    br[2] = gn_basic(b, br[2], ch5x5, 3, 1, 1, p);
    br[3] = clv_zoo__pool(b, CLV_OP_MAXPOOL, x, 3, 1, 1, 1, true,
                          "%s.branch4.0", name);
    snprintf(p, sizeof p, "%s.branch4.1", name);
    br[3] = gn_basic(b, br[3], pool_proj, 1, 1, 0, p);
    return clv_zoo__concat(b, 4, br, "%s.concat", name);
}

static clv_zoo_val net_googlenet(clv_zoo_builder *b, clv_zoo_val x)
{
    x = gn_basic(b, x, 64, 7, 2, 3, "conv1");
    x = clv_zoo__pool(b, CLV_OP_MAXPOOL, x, 3, 2, 0, 0, true, "maxpool1");
    x = gn_basic(b, x, 64, 1, 1, 0, "conv2");
    x = gn_basic(b, x, 192, 3, 1, 1, "conv3");
    x = clv_zoo__pool(b, CLV_OP_MAXPOOL, x, 3, 2, 0, 0, true, "maxpool2");
    x = gn_inception(b, x, "inception3a", 64, 96, 128, 16, 32, 32);
    x = gn_inception(b, x, "inception3b", 128, 128, 192, 32, 96, 64);
    x = clv_zoo__pool(b, CLV_OP_MAXPOOL, x, 3, 2, 0, 0, true, "maxpool3");
    x = gn_inception(b, x, "inception4a", 192, 96, 208, 16, 48, 64);
    x = gn_inception(b, x, "inception4b", 160, 112, 224, 24, 64, 64);
    x = gn_inception(b, x, "inception4c", 128, 128, 256, 24, 64, 64);
    x = gn_inception(b, x, "inception4d", 112, 144, 288, 32, 64, 64);
    x = gn_inception(b, x, "inception4e", 256, 160, 320, 32, 128, 128);
    x = clv_zoo__pool(b, CLV_OP_MAXPOOL, x, 2, 2, 0, 0, true, "maxpool4");
    x = gn_inception(b, x, "inception5a", 256, 160, 320, 32, 128, 128);
    x = gn_inception(b, x, "inception5b", 384, 192, 384, 48, 128, 128);
    x = clv_zoo__unary(b, CLV_OP_GLOBALAVERAGEPOOL, x, "avgpool");
    x = clv_zoo__unary(b, CLV_OP_FLATTEN, x, "flatten");
    x = clv_zoo__unary(b, CLV_OP_DROPOUT, x, "dropout");
    clv_zoo__last(b);
    return clv_zoo__gemm(b, x, 1000, "fc");
}

/* ---- Network in Network (caffe model zoo, nin_imagenet) ---------------- */

/* Layer names are those of the caffe prototxt (which has no relu4 and no
 * pool1). Caffe pools round up: ceil_mode. Its final 6x6/1 average pool is
 * written as a GlobalAveragePool (the same at 224, and size-independent). */
static clv_zoo_val net_nin(clv_zoo_builder *b, clv_zoo_val x)
{
    static const struct {
        const char *name;
        int64_t cout, k, pad, stride;
        const char *relu;
        const char *pool; /* MaxPool 3/2 after the ReLU, or NULL */
    } layers[] = {
        {"conv1", 96, 11, 0, 4, "relu0", NULL},
        {"cccp1", 96, 1, 0, 1, "relu1", NULL},
        {"cccp2", 96, 1, 0, 1, "relu2", "pool0"},
        {"conv2", 256, 5, 2, 1, "relu3", NULL},
        {"cccp3", 256, 1, 0, 1, "relu5", NULL},
        {"cccp4", 256, 1, 0, 1, "relu6", "pool2"},
        {"conv3", 384, 3, 1, 1, "relu7", NULL},
        {"cccp5", 384, 1, 0, 1, "relu8", NULL},
        {"cccp6", 384, 1, 0, 1, "relu9", "pool3"},
        {"conv4-1024", 1024, 3, 1, 1, "relu10", NULL},
        {"cccp7-1024", 1024, 1, 0, 1, "relu11", NULL},
        {"cccp8-1024", 1000, 1, 0, 1, "relu12", NULL},
    };
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        x = clv_zoo__conv(b, x, layers[i].cout, layers[i].k,
                          layers[i].stride, layers[i].pad, 1, true, "%s",
                          layers[i].name);
        x = clv_zoo__unary(b, CLV_OP_RELU, x, "%s", layers[i].relu);
        if (layers[i].pool) {
            x = clv_zoo__pool(b, CLV_OP_MAXPOOL, x, 3, 2, 0, 0, true, "%s",
                              layers[i].pool);
            if (strcmp(layers[i].pool, "pool3") == 0)
                x = clv_zoo__unary(b, CLV_OP_DROPOUT, x, "drop");
        }
    }
    x = clv_zoo__unary(b, CLV_OP_GLOBALAVERAGEPOOL, x, "pool4");
    clv_zoo__last(b);
    return clv_zoo__unary(b, CLV_OP_FLATTEN, x, "flatten");
}

/* ---- Tiny YOLOv2 (darknet cfg/yolov2-tiny-voc.cfg) --------------------- */

/* Nodes are named after darknet's layer numbers ("layer12.conv"). The final
 * [region] layer is left out: the graph ends in the 1x125xSxS map. */
static clv_zoo_val net_tiny_yolov2(clv_zoo_builder *b, clv_zoo_val x)
{
    static const int64_t filters[8] = {16, 32, 64, 128, 256, 512, 1024, 1024};
    int layer = 0;
    if (b->hw % 32 != 0) {
        clv_zoo__fail(b, CLV_ERANGE,
                      "the input side must be a multiple of 32 (5 stride-2 "
                      "max pools; darknet's 13x13 grid at 416)");
        return x;
    }
    for (int i = 0; i < 8; i++) {
        x = clv_zoo__conv(b, x, filters[i], 3, 1, 1, 1, false, "layer%d.conv",
                          layer);
        x = clv_zoo__bn(b, x, 1e-5f, "layer%d.bn", layer);
        x = clv_zoo__leaky(b, x, 0.1f, "layer%d.leaky", layer);
        layer++;
        if (i < 5) {
            x = clv_zoo__pool(b, CLV_OP_MAXPOOL, x, 2, 2, 0, 0, false,
                              "layer%d.maxpool", layer++);
        } else if (i == 5) {
            /* darknet's size-2 stride-1 maxpool pads one element at the
             * end of each spatial axis (padding = size - 1, offset 0). */
            x = clv_zoo__pool(b, CLV_OP_MAXPOOL, x, 2, 1, 0, 1, false,
                              "layer%d.maxpool", layer++);
        }
    }
    clv_zoo__last(b);
    return clv_zoo__conv(b, x, 125, 1, 1, 0, 1, true, "layer%d.conv", layer);
}

/* ---- LeNet-5 for 1x28x28 (Fashion-MNIST) ------------------------------- */

static clv_zoo_val net_lenet(clv_zoo_builder *b, clv_zoo_val x)
{
    if (b->hw != 28) {
        clv_zoo__fail(b, CLV_ERANGE,
                      "the network takes 28x28 inputs only (fc1 reads 16x5x5 "
                      "= 400 features)");
        return x;
    }
    x = clv_zoo__conv(b, x, 6, 5, 1, 2, 1, true, "conv1");
    x = clv_zoo__unary(b, CLV_OP_RELU, x, "relu1");
    x = clv_zoo__pool(b, CLV_OP_MAXPOOL, x, 2, 2, 0, 0, false, "pool1");
    x = clv_zoo__conv(b, x, 16, 5, 1, 0, 1, true, "conv2");
    x = clv_zoo__unary(b, CLV_OP_RELU, x, "relu2");
    x = clv_zoo__pool(b, CLV_OP_MAXPOOL, x, 2, 2, 0, 0, false, "pool2");
    x = clv_zoo__unary(b, CLV_OP_FLATTEN, x, "flatten");
    x = clv_zoo__gemm(b, x, 120, "fc1");
    x = clv_zoo__unary(b, CLV_OP_RELU, x, "relu3");
    x = clv_zoo__gemm(b, x, 84, "fc2");
    x = clv_zoo__unary(b, CLV_OP_RELU, x, "relu4");
    clv_zoo__last(b);
    return clv_zoo__gemm(b, x, 10, "fc3");
}

/* ---- the registry ------------------------------------------------------ */

static const struct zoo_model {
    const char *name;
    const char *describe;
    int64_t channels;
    int64_t default_hw;
    clv_zoo_val (*net)(clv_zoo_builder *b, clv_zoo_val x);
} zoo_models[] = {
    {"nin",
     "Network in Network (Lin et al. 2014), caffe nin_imagenet: "
     "1x3x224x224 -> 1x1000",
     3, 224, net_nin},
    {"tiny-yolov2",
     "Tiny YOLOv2 for VOC, darknet yolov2-tiny-voc.cfg without [region]: "
     "1x3x416x416 -> 1x125x13x13",
     3, 416, net_tiny_yolov2},
    {"vgg16", "VGG-16 without BN, torchvision vgg16: 1x3x224x224 -> 1x1000",
     3, 224, net_vgg16},
    {"alexnet", "AlexNet, torchvision alexnet: 1x3x224x224 -> 1x1000", 3,
     224, net_alexnet},
    {"resnet18", "ResNet-18, torchvision resnet18: 1x3x224x224 -> 1x1000", 3,
     224, net_resnet18},
    {"mobilenet-v2",
     "MobileNetV2 (width 1.0), torchvision mobilenet_v2: 1x3x224x224 -> "
     "1x1000",
     3, 224, net_mobilenet_v2},
    {"googlenet",
     "GoogLeNet without aux heads, torchvision googlenet: 1x3x224x224 -> "
     "1x1000",
     3, 224, net_googlenet},
    {"resnet50",
     "ResNet-50 (v1.5), torchvision resnet50: 1x3x224x224 -> 1x1000", 3, 224,
     net_resnet50},
    {"lenet",
     "LeNet-5 for Fashion-MNIST: 1x1x28x28 -> 1x10 (2 convs, 3 Gemms)", 1,
     28, net_lenet},
};

#define ZOO_COUNT ((int)(sizeof zoo_models / sizeof zoo_models[0]))

int clv_zoo_count(void)
{
    return ZOO_COUNT;
}

const char *clv_zoo_name(int i)
{
    return i >= 0 && i < ZOO_COUNT ? zoo_models[i].name : NULL;
}

const char *clv_zoo_describe(int i)
{
    return i >= 0 && i < ZOO_COUNT ? zoo_models[i].describe : NULL;
}

int clv_zoo_build(const char *name, uint64_t seed, int64_t hw,
                  clv_graph **out, clv_error *err)
{
    const struct zoo_model *m = NULL;
    clv_zoo_builder b;
    if (!out)
        return clv_error_set(err, CLV_EINVAL, "zoo: no output pointer");
    *out = NULL;
    for (int i = 0; name && i < ZOO_COUNT; i++)
        if (strcmp(name, zoo_models[i].name) == 0)
            m = &zoo_models[i];
    if (!m) {
        char known[256] = "";
        size_t used = 0;
        for (int i = 0; i < ZOO_COUNT; i++) {
            int n = snprintf(known + used, sizeof known - used, "%s%s",
                             i ? ", " : "", zoo_models[i].name);
            if (n < 0 || (size_t)n >= sizeof known - used)
                break;
            used += (size_t)n;
        }
        return clv_error_set(err, CLV_ENOTFOUND,
                             "zoo: no model named '%s'; the zoo has %s",
                             name ? name : "(null)", known);
    }
    if (hw == 0)
        hw = m->default_hw;
    if (hw < 1 || hw > ZOO_MAX_HW)
        return clv_error_set(err, CLV_ERANGE,
                             "zoo: %s: input side %lld is out of range (1 to "
                             "%d, or 0 for the default %lld)",
                             m->name, (long long)hw, ZOO_MAX_HW,
                             (long long)m->default_hw);
    clv_zoo_val x = clv_zoo__begin(&b, m->name, seed, m->channels, hw, err);
    if (!b.rc)
        x = m->net(&b, x);
    return clv_zoo__finish(&b, x, out);
}
