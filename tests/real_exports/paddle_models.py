"""Exports paddle.vision models (random weights) to ONNX with paddle2onnx, a dynamic batch dim, and saves each
model's input and Paddle output: OUT/pd_<name>_o<opset>.onnx, _in.npy, _out.npy. Usage: paddle_models.py OUT OPSET"""
import os, sys, warnings
import numpy as np
import paddle

warnings.filterwarnings("ignore")
V = paddle.vision.models
MODELS = ["resnet18", "mobilenet_v2", "mobilenet_v3_small", "shufflenet_v2_x1_0", "squeezenet1_1", "googlenet", "densenet121"]

out, opset = sys.argv[1], int(sys.argv[2])
for name in sys.argv[3:] or MODELS:
    paddle.seed(0)
    np.random.seed(0)
    m = getattr(V, name)()
    m.eval()
    x = np.random.randn(1, 3, 224, 224).astype("float32")
    y = m(paddle.to_tensor(x))
    y = y[0] if isinstance(y, (list, tuple)) else y
    base = f"{out}/pd_{name}_o{opset}"
    spec = [paddle.static.InputSpec(shape=[None, 3, 224, 224], dtype="float32", name="input")]
    paddle.onnx.export(m, base, input_spec=spec, opset_version=opset)
    np.save(base + "_in.npy", x)
    np.save(base + "_out.npy", y.numpy())
    print(f"pd_{name} o{opset}: exported {os.path.exists(base + '.onnx')}")
