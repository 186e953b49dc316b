#!/usr/bin/python3
"""Writes the ONNX models that tests/test_onnx.c reads.

    gen_onnx_cases.py OUTDIR            all test cases into OUTDIR
    gen_onnx_cases.py --corpus OUTDIR   the small seed models of the fuzzer
                                        (fuzz/corpus/onnx)

Needs python3-onnx (Debian) and numpy. Values are deterministic: the tests
compare them with numbers written in test_onnx.c.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data


def model(nodes, inputs, outputs, inits=(), opset=13, ir=8, name="g",
          extra_opsets=()):
    graph = helper.make_graph(nodes, name, inputs, outputs,
                              initializer=list(inits))
    opsets = [helper.make_opsetid("", opset)] + list(extra_opsets)
    m = helper.make_model(graph, opset_imports=opsets,
                          producer_name="gen_onnx_cases")
    m.ir_version = ir
    return m


def save(m, path, check=True):
    if check:
        onnx.checker.check_model(m, full_check=True)
    with open(path, "wb") as f:
        f.write(m.SerializeToString())


def vi(name, shape, dt=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dt, shape)


def conv_weights():
    """W[3,2,3,3] = arange * 0.5 - 3, B = [1, 2, 3]."""
    w = (np.arange(54, dtype=np.float32) * 0.5 - 3.0).reshape(3, 2, 3, 3)
    b = np.array([1, 2, 3], dtype=np.float32)
    return w, b


def init_forms(out):
    """W in raw_data, B in float_data, a shape in int64_data (used by a
    Reshape), and a scalar double in double_data via Cast chain."""
    w, b = conv_weights()
    W = numpy_helper.from_array(w, "W")  # raw_data
    B = helper.make_tensor("B", TensorProto.FLOAT, [3], b.tolist())
    S = helper.make_tensor("S", TensorProto.INT64, [2], [1, -1])
    nodes = [
        helper.make_node("Conv", ["X", "W", "B"], ["Y"], name="conv",
                         pads=[1, 1, 1, 1]),
        helper.make_node("Reshape", ["Y", "S"], ["Z"], name="flat"),
    ]
    m = model(nodes, [vi("X", [1, 2, 4, 4])], [vi("Z", [1, 48])],
              [W, B, S])
    save(m, os.path.join(out, "init_forms.onnx"))

    # The same with W in external data (offset 16 into external.bin) and a
    # symbolic batch dim.
    W = numpy_helper.from_array(w, "W")
    raw = W.raw_data
    with open(os.path.join(out, "external.bin"), "wb") as f:
        f.write(b"\xee" * 16 + raw + b"\xee" * 8)
    set_external_data(W, "external.bin", offset=16, length=len(raw))
    W.ClearField("raw_data")
    W.data_location = TensorProto.EXTERNAL
    B = numpy_helper.from_array(b, "B")
    m = model(nodes, [vi("X", ["N", 2, 4, 4])], [vi("Z", ["N", 48])],
              [W, B, S])
    save(m, os.path.join(out, "external.onnx"), check=False)

    # External data variants that must fail.
    def ext_variant(fname, location, offset, length):
        W = numpy_helper.from_array(w, "W")
        set_external_data(W, location, offset=offset, length=length)
        W.ClearField("raw_data")
        W.data_location = TensorProto.EXTERNAL
        m = model(nodes, [vi("X", [1, 2, 4, 4])], [vi("Z", [1, 48])],
                  [W, numpy_helper.from_array(b, "B"), S])
        save(m, os.path.join(out, fname), check=False)

    ext_variant("ext_dotdot.onnx", "../external.bin", 16, len(raw))
    ext_variant("ext_absolute.onnx", "/etc/passwd", 0, len(raw))
    ext_variant("ext_past_end.onnx", "external.bin", 40, len(raw))
    ext_variant("ext_missing_file.onnx", "nothing.bin", 0, len(raw))
    ext_variant("ext_bad_length.onnx", "external.bin", 16, len(raw) - 4)

    # raw_data one element short.
    W = numpy_helper.from_array(w, "W")
    W.raw_data = W.raw_data[:-4]
    m = model(nodes, [vi("X", [1, 2, 4, 4])], [vi("Z", [1, 48])],
              [W, numpy_helper.from_array(b, "B"), S])
    save(m, os.path.join(out, "bad_raw.onnx"), check=False)

    # float_data with the wrong count.
    W = helper.make_tensor("W", TensorProto.FLOAT, [3, 2, 3, 3],
                           w.flatten().tolist())
    del W.float_data[50:]
    m = model(nodes, [vi("X", [1, 2, 4, 4])], [vi("Z", [1, 48])],
              [W, numpy_helper.from_array(b, "B"), S])
    save(m, os.path.join(out, "bad_float_data.onnx"), check=False)

    # A float16 initializer.
    W = numpy_helper.from_array(w.astype(np.float16), "W")
    m = model(nodes, [vi("X", [1, 2, 4, 4], TensorProto.FLOAT16)],
              [vi("Z", [1, 48], TensorProto.FLOAT16)],
              [W, numpy_helper.from_array(b.astype(np.float16), "B"), S])
    save(m, os.path.join(out, "float16.onnx"), check=False)

    # The bias initializer is missing.
    m = model(nodes, [vi("X", [1, 2, 4, 4])], [vi("Z", [1, 48])],
              [numpy_helper.from_array(w, "W"), S])
    save(m, os.path.join(out, "missing_init.onnx"), check=False)


def variants(out):
    """Conv -> Clip(0, 6) -> nearest 2x upsampling -> Softmax(axis=1), in
    the forms of opsets 7, 9, 11 and 13; all load to one canonical graph."""
    w = (np.arange(4 * 3 * 3 * 3, dtype=np.float32) % 7 - 3).reshape(
        4, 3, 3, 3) * 0.25
    W = numpy_helper.from_array(w, "W")
    x, y = vi("X", [1, 3, 8, 8]), vi("Y", [1, 4, 16, 16])
    conv = helper.make_node("Conv", ["X", "W"], ["c"], name="conv",
                            pads=[1, 1, 1, 1])
    scales = numpy_helper.from_array(
        np.array([1, 1, 2, 2], dtype=np.float32), "scales")
    soft_legacy = helper.make_node("Softmax", ["u"], ["Y"], name="soft",
                                   axis=3)
    soft = helper.make_node("Softmax", ["u"], ["Y"], name="soft", axis=3)

    # opset 7: Clip attributes, Upsample with a scales attribute, IR 3 with
    # the weights listed among the inputs.
    nodes = [conv,
             helper.make_node("Clip", ["c"], ["r"], name="clip", min=0.0,
                              max=6.0),
             helper.make_node("Upsample", ["r"], ["u"], name="up",
                              mode="nearest", scales=[1.0, 1.0, 2.0, 2.0]),
             soft_legacy]
    m = model(nodes, [x, vi("W", [4, 3, 3, 3])], [y], [W], opset=7, ir=3)
    save(m, os.path.join(out, "v7.onnx"))

    # opset 9: Upsample with a scales input.
    nodes = [conv,
             helper.make_node("Clip", ["c"], ["r"], name="clip", min=0.0,
                              max=6.0),
             helper.make_node("Upsample", ["r", "scales"], ["u"], name="up",
                              mode="nearest"),
             soft_legacy]
    m = model(nodes, [x], [y], [W, scales], opset=9)
    save(m, os.path.join(out, "v9.onnx"))

    # opset 11: Clip inputs, Resize-11 (X, roi, scales).
    lo = numpy_helper.from_array(np.array(0, dtype=np.float32), "lo")
    hi = numpy_helper.from_array(np.array(6, dtype=np.float32), "hi")
    roi = numpy_helper.from_array(np.zeros(0, dtype=np.float32), "roi")
    resize = helper.make_node("Resize", ["r", "roi", "scales"], ["u"],
                              name="up", mode="nearest",
                              coordinate_transformation_mode="asymmetric",
                              nearest_mode="floor")
    nodes = [conv,
             helper.make_node("Clip", ["c", "lo", "hi"], ["r"], name="clip"),
             resize, soft_legacy]
    m = model(nodes, [x], [y], [W, scales, lo, hi, roi], opset=11)
    save(m, os.path.join(out, "v11.onnx"))

    # opset 13: Clip bounds from Constant nodes (out of order), Resize with
    # an absent roi; nodes listed in reverse order.
    nodes = [
        soft,
        helper.make_node("Resize", ["r", "", "scales"], ["u"], name="up",
                         mode="nearest",
                         coordinate_transformation_mode="asymmetric",
                         nearest_mode="floor"),
        helper.make_node("Clip", ["c", "lo", "hi"], ["r"], name="clip"),
        helper.make_node("Constant", [], ["hi"], name="k_hi",
                         value=numpy_helper.from_array(
                             np.array(6, dtype=np.float32))),
        helper.make_node("Constant", [], ["lo"], name="k_lo",
                         value_float=0.0),
        conv,
    ]
    m = model(nodes, [x], [y], [W, scales], opset=13)
    save(m, os.path.join(out, "v13.onnx"), check=False)  # not sorted
    # The checker's version of the same, sorted.
    m = model(nodes[::-1], [x], [y], [W, scales], opset=13)
    save(m, os.path.join(out, "v13_sorted.onnx"))


def flatten_chain(out, opset):
    """Conv -> (Shape -> Gather -> Unsqueeze -> Concat) -> Reshape -> Gemm,
    as PyTorch exports x.view(x.size(0), -1)."""
    rng = np.random.default_rng(7)
    W = numpy_helper.from_array(
        rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "W")
    G = numpy_helper.from_array(
        rng.standard_normal((5, 4 * 4 * 4)).astype(np.float32), "G")
    inits = [W, G,
             numpy_helper.from_array(np.array(0, dtype=np.int64), "zero"),
             numpy_helper.from_array(np.array([-1], dtype=np.int64),
                                     "minus1")]
    if opset >= 13:
        inits.append(numpy_helper.from_array(np.array([0], dtype=np.int64),
                                             "axes0"))
        unsq = helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"],
                                name="unsq")
    else:
        unsq = helper.make_node("Unsqueeze", ["n"], ["n1"], name="unsq",
                                axes=[0])
    nodes = [
        helper.make_node("Conv", ["X", "W"], ["c"], name="conv",
                         pads=[1, 1, 1, 1]),
        helper.make_node("Shape", ["c"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], name="gather",
                         axis=0),
        unsq,
        helper.make_node("Concat", ["n1", "minus1"], ["newshape"],
                         name="concat", axis=0),
        helper.make_node("Reshape", ["c", "newshape"], ["f"], name="view"),
        helper.make_node("Gemm", ["f", "G"], ["Y"], name="fc", transB=1),
    ]
    m = model(nodes, [vi("X", [1, 3, 4, 4])], [vi("Y", [1, 5])], inits,
              opset=opset)
    save(m, os.path.join(out, "flatten_chain_%d.onnx" % opset))


def roundtrip(out):
    """Many ops in one graph, for save/load round trips."""
    rng = np.random.default_rng(11)

    def f32(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    inits = [
        numpy_helper.from_array(f32(8, 3, 3, 3), "w1"),
        numpy_helper.from_array(f32(8), "b1"),
        numpy_helper.from_array(np.abs(f32(8)) + 0.5, "bn_scale"),
        numpy_helper.from_array(f32(8), "bn_bias"),
        numpy_helper.from_array(f32(8), "bn_mean"),
        numpy_helper.from_array(np.abs(f32(8)) + 0.5, "bn_var"),
        numpy_helper.from_array(f32(8, 1, 1) * 0.1, "slope"),
        numpy_helper.from_array(f32(8, 8, 1, 1), "w2"),
        numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1],
                                         dtype=np.int64), "pads"),
        numpy_helper.from_array(np.array([4, 4], dtype=np.int64), "split"),
        numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32),
                                "scales"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "s_starts"),
        numpy_helper.from_array(np.array([6], dtype=np.int64), "s_ends"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "s_axes"),
        numpy_helper.from_array(np.array([0.0], dtype=np.float32), "lo"),
        numpy_helper.from_array(np.array(6.0, dtype=np.float32), "hi"),
        numpy_helper.from_array(f32(6 * 5 * 5, 10), "fc_w"),
        numpy_helper.from_array(f32(10), "fc_b"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "ax2"),
        numpy_helper.from_array(np.array([1, 10], dtype=np.int64), "shape2"),
        numpy_helper.from_array(f32(10, 10), "mm"),
        numpy_helper.from_array(np.array([2.0], dtype=np.float32), "two"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "ax_rs"),
    ]
    N = helper.make_node
    nodes = [
        N("Conv", ["X", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1],
          strides=[1, 1]),
        N("BatchNormalization", ["c1", "bn_scale", "bn_bias", "bn_mean",
                                 "bn_var"], ["bn"], name="bn1",
          epsilon=1e-3),
        N("PRelu", ["bn", "slope"], ["pr"], name="prelu"),
        N("Conv", ["pr", "w2"], ["c2"], name="conv2", group=1),
        N("LeakyRelu", ["c2"], ["lr"], name="leaky", alpha=0.2),
        N("Pad", ["lr", "pads"], ["pd"], name="pad", mode="constant"),
        N("MaxPool", ["pd"], ["mp"], name="pool1", kernel_shape=[2, 2],
          strides=[2, 2]),
        N("Split", ["mp", "split"], ["sa", "sb"], name="split", axis=1),
        N("Sigmoid", ["sa"], ["sg"], name="sig"),
        N("Tanh", ["sb"], ["th"], name="tanh"),
        N("Mul", ["sg", "th"], ["m1"], name="mul"),
        N("Concat", ["m1", "sb"], ["cc"], name="concat", axis=1),
        N("Slice", ["cc", "s_starts", "s_ends", "s_axes"], ["sl"],
          name="slice"),
        N("Clip", ["sl", "lo", "hi"], ["cl"], name="relu6"),
        N("Resize", ["cl", "", "scales"], ["rs"], name="up", mode="nearest",
          coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
        N("AveragePool", ["rs"], ["ap"], name="pool2", kernel_shape=[2, 2],
          strides=[2, 2]),
        N("HardSigmoid", ["ap"], ["hs"], name="hsig", alpha=0.25, beta=0.5),
        N("LRN", ["hs"], ["lrn"], name="lrn", size=3, alpha=1e-4, beta=0.75,
          bias=1.0),
        N("Transpose", ["lrn"], ["tr"], name="tr", perm=[0, 1, 3, 2]),
        N("Flatten", ["tr"], ["fl"], name="flatten", axis=1),
        N("Gemm", ["fl", "fc_w", "fc_b"], ["fc"], name="fc", alpha=1.0,
          beta=1.0),
        N("Dropout", ["fc"], ["dr"], name="drop"),
        N("Unsqueeze", ["dr", "ax2"], ["us"], name="unsq"),
        N("Squeeze", ["us", "ax2"], ["sq"], name="sq"),
        N("Relu", ["sq"], ["re"], name="relu"),
        N("MatMul", ["re", "mm"], ["mmo"], name="matmul"),
        N("Sub", ["mmo", "two"], ["sb2"], name="sub"),
        N("Div", ["sb2", "two"], ["dv"], name="div"),
        N("Add", ["dv", "re"], ["ad"], name="add"),
        N("Identity", ["ad"], ["id"], name="ident"),
        N("Reshape", ["id", "shape2"], ["rsh"], name="reshape"),
        N("Softmax", ["rsh"], ["Y"], name="softmax", axis=-1),
        N("GlobalAveragePool", ["c2"], ["gap"], name="gap"),
        N("ReduceMean", ["c2"], ["rm"], name="rmean", axes=[2, 3]),
        N("ReduceSum", ["c2", "ax_rs"], ["rsum"], name="rsum", keepdims=0),
        N("ReduceMax", ["c2"], ["rmax"], name="rmax"),
        N("Pow", ["gap", "two"], ["pw"], name="pow"),
        N("Neg", ["rm"], ["ng"], name="neg"),
        N("Exp", ["ng"], ["ex"], name="exp"),
        N("Reciprocal", ["ex"], ["rc"], name="recip"),
        N("Sqrt", ["rc"], ["sr"], name="sqrt"),
        N("Erf", ["sr"], ["ef"], name="erf"),
    ]
    m = model(nodes, [vi("X", [1, 3, 8, 8])],
              [vi("Y", [1, 10]), vi("gap", [1, 8, 1, 1]),
               vi("rsum", [1, 8, 8]), vi("rmax", [1, 1, 1, 1]),
               vi("pw", [1, 8, 1, 1]), vi("ef", [1, 8, 1, 1])], inits)
    save(m, os.path.join(out, "roundtrip.onnx"))


def softmax_legacy(out):
    """Softmax of opset 11 over axis 1 of a 4-D tensor: the writer expands
    it into Flatten -> Softmax -> Reshape."""
    m = model([helper.make_node("Softmax", ["X"], ["Y"], name="sm", axis=1)],
              [vi("X", [2, 3, 2, 2])], [vi("Y", [2, 3, 2, 2])], opset=11)
    save(m, os.path.join(out, "softmax_legacy_11.onnx"))


def opset14(out):
    """HardSwish (new in opset 14), Gather and Cast on run-time data, and a
    Clip with only an upper bound."""
    N = helper.make_node
    hi = numpy_helper.from_array(np.array(0.5, dtype=np.float32), "hi")
    idx = numpy_helper.from_array(np.array([0, 2], dtype=np.int64), "idx")
    m = model([N("HardSwish", ["X"], ["h"], name="hswish"),
               N("Gather", ["h", "idx"], ["g"], name="gather", axis=1),
               N("Cast", ["g"], ["d"], name="to_double",
                 to=TensorProto.DOUBLE),
               N("Cast", ["d"], ["f"], name="to_float", to=TensorProto.FLOAT),
               N("Clip", ["f", "", "hi"], ["c"], name="clip_hi"),
               N("GlobalMaxPool", ["c"], ["Y"], name="gmp")],
              [vi("X", [1, 3, 4, 4])], [vi("Y", [1, 2, 1, 1])], [hi, idx],
              opset=14)
    save(m, os.path.join(out, "opset14.onnx"))


def opset17(out):
    """LayerNormalization (new in opset 17) over the last two dims, with
    its Mean output, then ReduceMean, as a transformer block ends."""
    N = helper.make_node
    rng = np.random.default_rng(17)
    w = numpy_helper.from_array(rng.standard_normal((4, 5)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal((4, 5)).astype(np.float32), "b")
    m = model([N("LayerNormalization", ["X", "w", "b"], ["ln", "mean"],
                 name="ln", axis=-2, epsilon=1e-3),
               N("ReduceMean", ["ln"], ["Y"], name="pool", axes=[1],
                 keepdims=0)],
              [vi("X", [2, 3, 4, 5])],
              [vi("Y", [2, 4, 5]), vi("mean", [2, 3, 1, 1])], [w, b],
              opset=17)
    save(m, os.path.join(out, "opset17.onnx"))


def errors(out):
    x, y = vi("X", [1, 4]), vi("Y", [1, 4])
    N = helper.make_node
    # A cycle: a = Add(X, b), b = Relu(a).
    m = model([N("Add", ["X", "b"], ["a"], name="add"),
               N("Relu", ["a"], ["b"], name="relu"),
               N("Identity", ["b"], ["Y"], name="out")], [x], [y])
    save(m, os.path.join(out, "cycle.onnx"), check=False)
    # An op cleave does not run.
    m = model([N("Relu", ["X"], ["r"], name="r"),
               N("Celu", ["r"], ["Y"], name="foo")], [x], [y])
    save(m, os.path.join(out, "unsupported_op.onnx"))
    # Opsets out of range.
    for v in (5, 99):
        m = model([N("Relu", ["X"], ["Y"], name="r")], [x], [y], opset=v)
        save(m, os.path.join(out, "opset%d.onnx" % v), check=False)
    # A node of another domain.
    m = model([N("Relu", ["X"], ["r"], name="r"),
               N("FusedThing", ["r"], ["Y"], name="fz",
                 domain="com.example")], [x], [y],
              extra_opsets=[helper.make_opsetid("com.example", 1)])
    save(m, os.path.join(out, "custom_domain.onnx"), check=False)
    # A name written by two nodes.
    m = model([N("Relu", ["X"], ["Y"], name="a"),
               N("Sigmoid", ["X"], ["Y"], name="b")], [x], [y])
    save(m, os.path.join(out, "two_writers.onnx"), check=False)
    # An input of an unsupported type.
    m = model([N("Relu", ["X"], ["Y"], name="r")],
              [vi("X", [1, 4], TensorProto.STRING)], [y])
    save(m, os.path.join(out, "string_input.onnx"), check=False)
    # No nodes at all: the output is the input.
    m = model([], [x], [vi("X", [1, 4])])
    save(m, os.path.join(out, "no_nodes.onnx"), check=False)


def small(out):
    """The seed corpus of the fuzzer: small valid models."""
    x = vi("X", [1, 2, 4, 4])
    N = helper.make_node
    w = numpy_helper.from_array(
        (np.arange(2 * 2 * 3 * 3, dtype=np.float32) - 9).reshape(2, 2, 3, 3)
        * 0.1, "W")
    m = model([N("Conv", ["X", "W"], ["c"], name="conv", pads=[1, 1, 1, 1]),
               N("Relu", ["c"], ["r"], name="relu"),
               N("MaxPool", ["r"], ["Y"], name="pool", kernel_shape=[2, 2],
                 strides=[2, 2])],
              [x], [vi("Y", [1, 2, 2, 2])], [w])
    save(m, os.path.join(out, "conv_relu_pool.onnx"))
    lo = numpy_helper.from_array(np.array(0, dtype=np.float32), "lo")
    sc = numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32),
                                 "scales")
    roi = numpy_helper.from_array(np.zeros(0, dtype=np.float32), "roi")
    m = model([N("Clip", ["X", "lo"], ["c"], name="clip"),
               N("Resize", ["c", "roi", "scales"], ["Y"], name="up",
                 mode="nearest", coordinate_transformation_mode="asymmetric",
                 nearest_mode="floor")],
              [x], [vi("Y", [1, 2, 8, 8])], [lo, sc, roi], opset=11)
    save(m, os.path.join(out, "clip_resize_11.onnx"))
    m = model([N("Upsample", ["X"], ["u"], name="up", scales=[1., 1., 2., 2.]),
               N("Softmax", ["u"], ["Y"], name="sm", axis=1)],
              [x], [vi("Y", [1, 2, 8, 8])], opset=7)
    save(m, os.path.join(out, "upsample_7.onnx"))
    g = numpy_helper.from_array(np.ones((3, 32), dtype=np.float32), "G")
    m = model([N("Shape", ["X"], ["s"], name="shape"),
               N("Constant", [], ["z"], name="k", value_ints=[0]),
               N("Gather", ["s", "z"], ["n"], name="gather", axis=0),
               N("Constant", [], ["m1"], name="k2", value_ints=[-1]),
               N("Concat", ["n", "m1"], ["ns"], name="cat", axis=0),
               N("Reshape", ["X", "ns"], ["f"], name="view"),
               N("Gemm", ["f", "G"], ["Y"], name="fc", transB=1)],
              [x], [vi("Y", [1, 3])], [g])
    save(m, os.path.join(out, "flatten_chain.onnx"))
    m = model([N("Pad", ["X", "p"], ["pd"], name="pad"),
               N("Split", ["pd"], ["a", "b"], name="split", axis=1),
               N("Add", ["a", "b"], ["s"], name="add"),
               N("Squeeze", ["s"], ["Y"], name="sq", axes=[0])],
              [x], [vi("Y", [1, 6, 6])],
              [numpy_helper.from_array(
                  np.array([0, 0, 1, 1, 0, 0, 1, 1], dtype=np.int64), "p")],
              opset=11)
    save(m, os.path.join(out, "pad_split_11.onnx"))
    m = model([N("Reorg", ["X"], ["r"], name="reorg", domain="ai.cleave",
                 stride=2),
               N("Relu", ["r"], ["Y"], name="relu")],
              [x], [vi("Y", [1, 8, 2, 2])],
              extra_opsets=[helper.make_opsetid("ai.cleave", 1)])
    save(m, os.path.join(out, "reorg.onnx"))


# Test cases that also seed the fuzzer (besides small()).
CORPUS_EXTRA = ["init_forms.onnx", "v7.onnx", "v13.onnx", "roundtrip.onnx",
                "softmax_legacy_11.onnx", "opset14.onnx"]


def main(argv):
    if len(argv) == 3 and argv[1] == "--corpus":
        import shutil
        import tempfile
        os.makedirs(argv[2], exist_ok=True)
        small(argv[2])
        with tempfile.TemporaryDirectory() as tmp:
            init_forms(tmp)
            variants(tmp)
            roundtrip(tmp)
            softmax_legacy(tmp)
            opset14(tmp)
            for name in CORPUS_EXTRA:
                shutil.copy(os.path.join(tmp, name), argv[2])
        return 0
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    out = argv[1]
    os.makedirs(out, exist_ok=True)
    init_forms(out)
    variants(out)
    flatten_chain(out, 11)
    flatten_chain(out, 13)
    roundtrip(out)
    softmax_legacy(out)
    opset14(out)
    opset17(out)
    errors(out)
    small(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
