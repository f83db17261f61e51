"""Prints one result line: SQNR of accel's output against the framework's and against accel's fp32 run.
Usage: compare.py NAME OPSET MODE OUTDIR FRAMEWORK_OUT.npy [FP32_OUTDIR]"""
import glob, sys
import numpy as np

name, opset, mode, outdir, want_path = sys.argv[1:6]


def sqnr(want, got):
    noise = ((got - want) ** 2).sum()
    return float("inf") if noise == 0 else 10 * np.log10((want ** 2).sum() / noise)


want = np.load(want_path).astype(np.float64)
got = np.load(glob.glob(outdir + "/*.npy")[0]).astype(np.float64)
line = f"| {name} | {opset} | {mode} | {sqnr(want, got):.1f} |"
if len(sys.argv) > 6 and glob.glob(sys.argv[6] + "/*.npy"):
    line += f" {sqnr(np.load(glob.glob(sys.argv[6] + '/*.npy')[0]).astype(np.float64), got):.1f} |"
else:
    line += " |"
print(line)
