"""Exports torchvision models (random weights, no download) and a few speech/sequence/segmentation modules to
ONNX with PyTorch's TorchScript exporter, with a dynamic batch dim, and saves each model's input and PyTorch
output next to it: OUT/<name>_o<opset>.onnx, _in.npy, _out.npy. Usage: torchvision_models.py OUT OPSET [NAME..]"""
import sys, warnings
import numpy as np
import torch
import torchvision

warnings.filterwarnings("ignore")
M = torchvision.models
nn = torch.nn


class SpeechLstm(nn.Module):
    """A conv front end, a 2-layer LSTM and a per-frame classifier (keyword spotting)."""
    def __init__(self):
        super().__init__()
        self.conv, self.lstm, self.fc = nn.Conv1d(40, 64, 3, padding=1), nn.LSTM(64, 96, 2, batch_first=True), nn.Linear(96, 30)

    def forward(self, x):
        y, _ = self.lstm(torch.relu(self.conv(x)).transpose(1, 2))
        return self.fc(y).log_softmax(-1)


class BiGru(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru, self.fc = nn.GRU(32, 48, batch_first=True, bidirectional=True), nn.Linear(96, 10)

    def forward(self, x):
        y, _ = self.gru(x)
        return self.fc(y[:, -1])


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(64, 4, 128, batch_first=True, dropout=0.0)
        self.enc, self.fc = nn.TransformerEncoder(layer, 2), nn.Linear(64, 5)

    def forward(self, x):
        return self.fc(self.enc(x).mean(1))


def vit():
    m = M.vit_b_16()
    nn.init.normal_(m.heads.head.weight, 0, 0.02)  # torchvision zeroes the head: the output would be all 0
    return m


MODELS = {
    "resnet18": (M.resnet18, (1, 3, 224, 224)),
    "mobilenet_v2": (M.mobilenet_v2, (1, 3, 224, 224)),
    "mobilenet_v3_small": (M.mobilenet_v3_small, (1, 3, 224, 224)),
    "efficientnet_b0": (M.efficientnet_b0, (1, 3, 224, 224)),
    "shufflenet_v2_x1_0": (M.shufflenet_v2_x1_0, (1, 3, 224, 224)),
    "squeezenet1_1": (M.squeezenet1_1, (1, 3, 224, 224)),
    "googlenet": (lambda: M.googlenet(aux_logits=False, init_weights=True), (1, 3, 224, 224)),
    "regnet_y_400mf": (M.regnet_y_400mf, (1, 3, 224, 224)),
    "mnasnet0_5": (M.mnasnet0_5, (1, 3, 224, 224)),
    "densenet121": (M.densenet121, (1, 3, 224, 224)),
    "convnext_tiny": (M.convnext_tiny, (1, 3, 224, 224)),
    "swin_t": (M.swin_t, (1, 3, 224, 224)),
    "vit_b_16": (vit, (1, 3, 224, 224)),
    "deeplabv3_mobilenet": (lambda: M.segmentation.deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None), (1, 3, 256, 256)),
    "fcn_resnet50": (lambda: M.segmentation.fcn_resnet50(weights=None, weights_backbone=None), (1, 3, 256, 256)),
    "speech_lstm": (SpeechLstm, (1, 40, 50)),
    "gru_bi": (BiGru, (1, 20, 32)),
    "tf_encoder": (Encoder, (1, 16, 64)),
}

out, opset = sys.argv[1], int(sys.argv[2])
for name in sys.argv[3:] or list(MODELS):
    make, shape = MODELS[name]
    torch.manual_seed(0)
    m = make().eval()
    x = torch.randn(*shape)
    with torch.no_grad():
        y = m(x)
    y = y["out"] if isinstance(y, dict) else y
    base = f"{out}/{name}_o{opset}"
    try:
        torch.onnx.export(m, x, base + ".onnx", opset_version=opset, dynamo=False, input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    except Exception as e:  # an operator this opset cannot express (e.g. attention before opset 14)
        print(f"{name} o{opset}: not exported: {str(e).splitlines()[0][:160]}")
        continue
    np.save(base + "_in.npy", x.numpy())
    np.save(base + "_out.npy", y.numpy())
    print(f"{name} o{opset}: exported")
