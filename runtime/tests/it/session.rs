//! Sessions end to end: a load -> conv -> store program computes the reference convolution; inputs are checked
//! by name, count and type; the blob round trip works and a damaged blob is a typed error.
use crate::common::*;
use accel_ops::blob::encode;
use accel_ops::op::{Conv, Op, UnaryOp};
use accel_ops::{Tensor, TensorType};
use accel_runtime::random::random_inputs;
use accel_runtime::{RuntimeError, Session};

fn close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-4 + 1e-4 * w.abs(), "element {i}: got {g}, want {w}");
    }
}

#[test]
fn load_conv_store_matches_the_reference() {
    for (c, k, h, w, act) in [(3, 4, 8, 8, None), (5, 7, 9, 6, Some(UnaryOp::Relu)), (16, 32, 14, 14, None)] {
        let cp = conv_program(c, k, h, w, act, 42);
        let mut s = Session::from_program(cp.program).unwrap();
        let inputs = random_inputs(&s.meta().inputs, 3).unwrap();
        let out = s.run(&inputs).unwrap();
        let (c, k) = (c as usize, k as usize);
        let wt = Tensor::from_f32(vec![k, c, 3, 3], cp.weights.clone()).unwrap();
        let b = Tensor::from_f32(vec![k], cp.bias.clone()).unwrap();
        let op = Op::Conv(Conv { kernel: [3, 3], strides: [1, 1], dilations: [1, 1], pads: [1; 4], group: 1, act });
        let want = op.eval(&[&inputs[0].1, &wt, &b]).unwrap();
        assert_eq!(out.outputs[0].0, "y");
        close(out.outputs[0].1.as_f32().unwrap(), want.as_f32().unwrap());
        assert_eq!(out.report.macs, (k * c * 9 * h as usize * w as usize) as u64);
        assert!(out.report.energy_mj > 0.0 && out.report.stall_cycles.unit > 0);
    }
}

#[test]
fn inputs_are_checked_by_name_count_and_type() {
    let mut s = Session::from_program(conv_program(3, 4, 8, 8, None, 1).program).unwrap();
    let good = random_inputs(&s.meta().inputs, 1).unwrap();
    let x = good[0].1.clone();
    let e = s.run(&[]).unwrap_err();
    assert!(matches!(&e, RuntimeError::MissingInput { name, .. } if name == "x"), "{e}");
    let e = s.run(&[("x".into(), x.clone()), ("z".into(), x.clone())]).unwrap_err();
    assert!(matches!(&e, RuntimeError::UnknownInput { name, .. } if name == "z"), "{e}");
    let e = s.run(&[("x".into(), x.clone()), ("x".into(), x.clone())]).unwrap_err();
    assert!(matches!(&e, RuntimeError::DuplicateInput { name } if name == "x"), "{e}");
    let wrong_shape = Tensor::from_f32(vec![1, 3, 8, 7], vec![0.0; 168]).unwrap();
    let e = s.run(&[("x".into(), wrong_shape)]).unwrap_err();
    assert!(matches!(&e, RuntimeError::InputType { name, .. } if name == "x"), "{e}");
    let wrong_dtype = Tensor::zeros(&TensorType::new(accel_ops::DType::I32, vec![1, 3, 8, 8])).unwrap();
    let e = s.run(&[("x".into(), wrong_dtype)]).unwrap_err();
    assert!(e.to_string().contains("i32") && e.to_string().contains("`x`"), "{e}");
    // The session still works after refused runs.
    s.run(&good).unwrap();
}

#[test]
fn blobs_round_trip_and_damage_is_a_typed_error() {
    let cp = conv_program(3, 4, 8, 8, None, 9);
    let bytes = encode(&cp.program).unwrap();
    let mut from_blob = Session::load(&bytes).unwrap();
    let mut direct = Session::from_program(cp.program).unwrap();
    let inputs = random_inputs(&direct.meta().inputs, 2).unwrap();
    assert_eq!(from_blob.run(&inputs).unwrap().outputs, direct.run(&inputs).unwrap().outputs);
    let mut bad = bytes.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(matches!(Session::load(&bad), Err(RuntimeError::Blob(_))));
    assert!(matches!(Session::load(&bytes[..100]), Err(RuntimeError::Blob(_))));
    assert!(matches!(Session::load_path("/nonexistent/model.bin"), Err(RuntimeError::Read { .. })));
}

#[test]
fn every_truncation_and_byte_flip_of_a_blob_is_refused_without_panicking() {
    let bytes = encode(&conv_program(2, 2, 4, 4, None, 3).program).unwrap();
    for cut in (0..bytes.len()).step_by(7) {
        assert!(Session::load(&bytes[..cut]).is_err());
    }
    for at in (0..bytes.len()).step_by(3) {
        let mut b = bytes.clone();
        b[at] = b[at].wrapping_add(0x5a);
        // Checksums catch nearly everything; whatever passes them must still verify or be refused cleanly.
        let _ = Session::load(&b);
    }
}

#[test]
fn tile_and_host_layers_are_reported_separately() {
    use accel_ops::command::{Command, Unit};
    use accel_ops::op::Softmax;
    use accel_ops::program::{DramTensor, HostKernel};
    let cp = conv_program(3, 4, 6, 6, None, 4);
    let mut p = cp.program;
    let y = p.meta.outputs[0].clone();
    let z_dram = p.meta.dram_bytes.next_multiple_of(64);
    p.meta.dram_bytes = z_dram + 4 * 4 * 36;
    p.meta.semaphores = 3;
    p.queues[2].commands.push(signal(2));
    p.queues.push(queue(0, Unit::Host, vec![wait(2, 1), Command::HostCall { kernel: 0 }]));
    let softmax = Op::Softmax(Softmax { axis: 1, log: false });
    p.kernels.push(HostKernel::fallback(
        softmax.clone(),
        vec![DramTensor { dram: y.dram, ty: y.ty.clone() }],
        DramTensor { dram: z_dram, ty: y.ty.clone() },
    ));
    p.meta.outputs = vec![io("z", y.ty.clone(), z_dram)];
    p.debug.layers = vec!["/conv/Conv".into(), "/softmax/Softmax".into()];
    p.debug.command_layer = vec![vec![0; 4], vec![0; 3], vec![0; 3], vec![1; 2]];
    let mut s = Session::from_program(p).unwrap();
    let inputs = random_inputs(&s.meta().inputs, 8).unwrap();
    let out = s.run(&inputs).unwrap();
    let wt = Tensor::from_f32(vec![4, 3, 3, 3], cp.weights).unwrap();
    let b = Tensor::from_f32(vec![4], cp.bias).unwrap();
    let conv = Op::Conv(Conv { kernel: [3, 3], strides: [1, 1], dilations: [1, 1], pads: [1; 4], group: 1, act: None });
    let want = softmax.eval(&[&conv.eval(&[&inputs[0].1, &wt, &b]).unwrap()]).unwrap();
    close(out.outputs[0].1.as_f32().unwrap(), want.as_f32().unwrap());
    let r = &out.report;
    assert_eq!(r.layers.len(), 2);
    let (conv_l, soft_l) = (&r.layers[0], &r.layers[1]);
    assert_eq!((conv_l.name.as_str(), conv_l.placement.as_str()), ("/conv/Conv", "tile"));
    assert_eq!(conv_l.units, vec!["dma-in", "mac", "dma-out"]);
    assert_eq!((soft_l.placement.as_str(), soft_l.macs), ("host", 0));
    assert!(soft_l.host_cycles > 0 && soft_l.start_cycle >= conv_l.end_cycle);
    assert_eq!(conv_l.macs, r.macs);
    assert_eq!(r.latency_cycles, soft_l.end_cycle);
    let table = r.layer_table();
    assert!(table.contains("/softmax/Softmax") && table.contains("host"), "{table}");
}
