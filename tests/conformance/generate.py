"""Regenerates the ONNX backend node test cases into OUT/node/<case>/ (model.onnx, test_data_set_0/*.pb).

onnx's own `cmd_tools generate-data` writes only the model cases in recent releases; the node cases come from
`onnx.backend.test.case.node.collect_testcases`, written here in the same layout the onnx repository ships.
"""
import os
import shutil
import sys

import onnx
from onnx import TensorProto, numpy_helper
from onnx.backend.test.case import node as node_cases


def write_value(path, value, value_info):
    t = value_info.type
    if t.HasField("sequence_type"):
        proto = numpy_helper.from_list(value, value_info.name)
    elif t.HasField("optional_type"):
        proto = numpy_helper.from_optional(value, value_info.name)
    elif t.HasField("map_type"):
        proto = numpy_helper.from_dict(value, value_info.name)
    elif isinstance(value, TensorProto):
        proto = value
    else:
        proto = numpy_helper.from_array(value, value_info.name)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())


def main():
    out = os.path.join(sys.argv[1], "node")
    if os.path.exists(out):
        shutil.rmtree(out)
    cases = node_cases.collect_testcases()
    for case in cases:
        case_dir = os.path.join(out, case.name)
        data_dir = os.path.join(case_dir, "test_data_set_0")
        os.makedirs(data_dir)
        with open(os.path.join(case_dir, "model.onnx"), "wb") as f:
            f.write(case.model.SerializeToString())
        inputs, outputs = case.data_sets[0]
        for j, v in enumerate(inputs):
            write_value(os.path.join(data_dir, f"input_{j}.pb"), v, case.model.graph.input[j])
        for j, v in enumerate(outputs):
            write_value(os.path.join(data_dir, f"output_{j}.pb"), v, case.model.graph.output[j])
    print(f"onnx {onnx.__version__}: {len(cases)} node cases in {out}")


if __name__ == "__main__":
    main()
