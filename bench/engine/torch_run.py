#!/usr/bin/python3
"""Runs an ONNX model with PyTorch (Debian's python3-torch), eager mode.

    /usr/bin/python3 bench/engine/torch_run.py MODEL.onnx [--input FILE]
        [--output FILE] [--threads N] [--repeat K] [--warmup W] [--json]

The model is not converted by a tool: a small interpreter walks the ONNX
graph (in its topological order) and calls the torch.nn.functional op for
each node, with the ONNX initializers as torch tensors. For the ops of
cleave's zoo (Conv, BatchNormalization, Relu, LeakyRelu, Clip, MaxPool,
AveragePool, GlobalAveragePool, Flatten, Gemm, Dropout, Add, Concat, ...)
this is the same sequence of ATen kernels a hand-written torch.nn model
(torchvision's, for the zoo's torchvision networks) runs in eager
inference: convolution, then batch norm, then the activation, unfused.

--input: raw little-endian float32 of the (single) input's shape; without
it, uniform values in [0, 1) from torch's generator seeded 1. --output:
every graph output as raw float32, one after the other. --threads N:
torch.set_num_threads(N) (interop threads 1). Timing: W warm-up runs (1),
then K runs (10) of the whole graph under torch.inference_mode(); median,
min and max wall-clock milliseconds. --json prints {"format": "torch-run",
"version": 1, "torch", "model", "threads", "runs", "median_ms", "min_ms",
"max_ms", "times_ms", "outputs": [{"name", "shape"}]}.
"""
import argparse
import json
import statistics
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn.functional as F


def attrs_of(node):
    out = {}
    for a in node.attribute:
        out[a.name] = onnx.helper.get_attribute_value(a)
        if isinstance(out[a.name], bytes):
            out[a.name] = out[a.name].decode()
    return out


def sym_pads(pads, nd):
    """ONNX pads (begins, ends) -> (symmetric padding or None, F.pad list)."""
    if not pads:
        return [0] * nd, None
    b, e = list(pads[:nd]), list(pads[nd:])
    if b == e:
        return b, None
    fp = []
    for i in reversed(range(nd)):
        fp += [b[i], e[i]]
    return [0] * nd, fp


class Interpreter:
    """Evaluates an ONNX graph node by node with torch ops."""

    def __init__(self, model):
        g = model.graph
        self.opset = max((o.version for o in model.opset_import
                          if o.domain in ("", "ai.onnx")), default=13)
        self.consts = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy())
                       for t in g.initializer}
        self.inputs = [i.name for i in g.input if i.name not in self.consts]
        self.outputs = [o.name for o in g.output]
        self.steps = []
        for n in g.node:
            fn = getattr(self, "op_" + n.op_type, None)
            if fn is None:
                raise SystemExit("torch_run: op %s (node %s) is not supported"
                                 % (n.op_type, n.name))
            self.steps.append((fn, list(n.input), list(n.output), attrs_of(n)))
        # Which values die after each step (keeps memory like a real model).
        last = {}
        for k, (_, ins, _, _) in enumerate(self.steps):
            for x in ins:
                last[x] = k
        self.dead = [[x for x in ins if last.get(x) == k and x not in self.consts
                      and x not in self.outputs]
                     for k, (_, ins, _, _) in enumerate(self.steps)]

    def run(self, feeds):
        env = dict(self.consts)
        env.update(feeds)
        for k, (fn, ins, outs, a) in enumerate(self.steps):
            args = [env[x] if x else None for x in ins]
            res = fn(a, *args)
            if not isinstance(res, tuple):
                res = (res,)
            for name, v in zip(outs, res):
                if name:
                    env[name] = v
            for x in self.dead[k]:
                env.pop(x, None)
        return [env[o] for o in self.outputs]

    # ---- ops -------------------------------------------------------------
    def op_Conv(self, a, x, w, b=None):
        nd = w.dim() - 2
        pad, fp = sym_pads(a.get("pads"), nd)
        if a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
            raise SystemExit("torch_run: Conv auto_pad %s" % a["auto_pad"])
        if fp:
            x = F.pad(x, fp)
        conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
        return conv(x, w, b, a.get("strides", [1] * nd), pad,
                    a.get("dilations", [1] * nd), a.get("group", 1))

    def op_BatchNormalization(self, a, x, s, b, m, v):
        return F.batch_norm(x, m, v, s, b, False, 0.0, a.get("epsilon", 1e-5))

    def op_Relu(self, a, x):
        return F.relu(x)

    def op_LeakyRelu(self, a, x):
        return F.leaky_relu(x, a.get("alpha", 0.01))

    def op_Sigmoid(self, a, x):
        return torch.sigmoid(x)

    def op_Tanh(self, a, x):
        return torch.tanh(x)

    def op_Clip(self, a, x, lo=None, hi=None):
        lo = float(lo) if lo is not None else a.get("min")
        hi = float(hi) if hi is not None else a.get("max")
        if lo == 0.0 and hi == 6.0:
            return F.relu6(x)
        return torch.clamp(x, lo, hi)

    def op_HardSwish(self, a, x):
        return F.hardswish(x)

    def op_HardSigmoid(self, a, x):
        return torch.clamp(a.get("alpha", 0.2) * x + a.get("beta", 0.5), 0, 1)

    def _pool(self, a, x, kind):
        k = a["kernel_shape"]
        nd = len(k)
        pad, fp = sym_pads(a.get("pads"), nd)
        s = a.get("strides", [1] * nd)
        ceil = bool(a.get("ceil_mode", 0))
        if kind == "max":
            if fp:
                x = F.pad(x, fp, value=float("-inf"))
            fn = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[nd]
            return fn(x, k, s, pad, a.get("dilations", [1] * nd), ceil)
        cip = bool(a.get("count_include_pad", 0))
        if fp:
            if not cip:
                raise SystemExit("torch_run: asymmetric AveragePool pads")
            x = F.pad(x, fp)
        fn = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[nd]
        return fn(x, k, s, pad, ceil, cip)

    def op_MaxPool(self, a, x):
        return self._pool(a, x, "max")

    def op_AveragePool(self, a, x):
        return self._pool(a, x, "avg")

    def op_GlobalAveragePool(self, a, x):
        return torch.mean(x, dim=tuple(range(2, x.dim())), keepdim=True)

    def op_GlobalMaxPool(self, a, x):
        return torch.amax(x, dim=tuple(range(2, x.dim())), keepdim=True)

    def op_Flatten(self, a, x):
        ax = a.get("axis", 1)
        ax = ax + x.dim() if ax < 0 else ax
        lead = 1
        for d in x.shape[:ax]:
            lead *= d
        return x.reshape(lead, -1)

    def op_Gemm(self, a, A, B, C=None):
        if a.get("transA", 0):
            A = A.t()
        alpha, beta = a.get("alpha", 1.0), a.get("beta", 1.0)
        if a.get("transB", 0) and alpha == 1.0 and (C is None or beta == 1.0):
            return F.linear(A, B, C)
        B = B.t() if a.get("transB", 0) else B
        y = alpha * (A @ B) if alpha != 1.0 else A @ B
        return y + beta * C if C is not None else y

    def op_MatMul(self, a, A, B):
        return torch.matmul(A, B)

    def op_Dropout(self, a, x, *rest):
        return x

    def op_Identity(self, a, x):
        return x

    def op_Add(self, a, x, y):
        return x + y

    def op_Sub(self, a, x, y):
        return x - y

    def op_Mul(self, a, x, y):
        return x * y

    def op_Div(self, a, x, y):
        return x / y

    def op_Concat(self, a, *xs):
        return torch.cat(xs, a["axis"])

    def op_Reshape(self, a, x, shape):
        s = [int(v) for v in shape.tolist()]
        s = [x.shape[i] if v == 0 and not a.get("allowzero", 0) else v
             for i, v in enumerate(s)]
        return x.reshape(s)

    def op_Transpose(self, a, x):
        return x.permute(a.get("perm", list(reversed(range(x.dim())))))

    def op_Softmax(self, a, x):
        ax = a.get("axis", -1 if self.opset >= 13 else 1)
        if self.opset >= 13:
            return torch.softmax(x, ax)
        shp = x.shape
        ax = ax + x.dim() if ax < 0 else ax
        lead = 1
        for d in shp[:ax]:
            lead *= d
        return torch.softmax(x.reshape(lead, -1), 1).reshape(shp)

    def op_LRN(self, a, x):
        return F.local_response_norm(x, a["size"], a.get("alpha", 1e-4),
                                     a.get("beta", 0.75), a.get("bias", 1.0))


def median_ms(ts):
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--input")
    ap.add_argument("--output")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    model = onnx.load(a.model)
    net = Interpreter(model)
    if len(net.inputs) != 1:
        raise SystemExit("torch_run: %d inputs; one expected" % len(net.inputs))
    vi = next(i for i in model.graph.input if i.name == net.inputs[0])
    shape = [d.dim_value if d.dim_value > 0 else 1
             for d in vi.type.tensor_type.shape.dim]
    if a.input:
        data = np.fromfile(a.input, dtype="<f4")
        if data.size != int(np.prod(shape)):
            raise SystemExit("torch_run: %s has %d floats, input %s needs %d"
                             % (a.input, data.size, shape, int(np.prod(shape))))
        x = torch.from_numpy(data.reshape(shape).copy())
    else:
        gen = torch.Generator().manual_seed(1)
        x = torch.rand(shape, generator=gen)
    feeds = {net.inputs[0]: x}

    times = []
    with torch.inference_mode():
        outs = None
        for _ in range(a.warmup):
            outs = net.run(feeds)
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            outs = net.run(feeds)
            times.append((time.perf_counter() - t0) * 1e3)
    if a.output:
        with open(a.output, "wb") as f:
            for o in outs:
                f.write(o.contiguous().numpy().astype("<f4").tobytes())
    st = sorted(times)
    summary = {"format": "torch-run", "version": 1, "torch": torch.__version__,
               "model": a.model, "threads": a.threads, "runs": a.repeat,
               "median_ms": median_ms(st), "min_ms": st[0], "max_ms": st[-1],
               "times_ms": times,
               "outputs": [{"name": n, "shape": list(o.shape)}
                           for n, o in zip(net.outputs, outs)]}
    if a.json:
        print(json.dumps(summary))
    else:
        print("torch %s, %d thread(s): median %.3f ms over %d runs (min %.3f, "
              "max %.3f)" % (torch.__version__, a.threads, summary["median_ms"],
                             a.repeat, st[0], st[-1]))


if __name__ == "__main__":
    sys.exit(main())
