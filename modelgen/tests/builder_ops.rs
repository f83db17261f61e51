//! Every `GraphBuilder` op, in every supported opset, loads and runs in tract, and the
//! opset-specific forms (Clip, Resize, Split, Squeeze/Unsqueeze, Softmax, HardSwish)
//! compute the same function. Also naming rules and error reporting.

mod common;

use accel_modelgen::{Dim, GraphBuilder, ModelProto};
use common::{assert_close, names, run_in_tract};

/// A graph touching every builder op.
fn kitchen_sink(opset: i64, constants: bool) -> anyhow::Result<ModelProto> {
    let mut b = GraphBuilder::new(3).opset(opset).weights_as_constants(constants);
    let x = b.input("x", &[Dim::Sym("batch".into()), 4.into(), 8.into(), 8.into()]);
    let c = b.scoped("conv", |b| b.conv(&x, 8, 3, 1, 1, 1, true));
    let c = b.scoped("bn", |b| b.batch_norm(&c));
    let r = b.relu(&c);
    let r6 = b.relu6(&c);
    let cl = b.clip(&c, -0.5, 0.5);
    let lr = b.leaky_relu(&c, 0.2);
    let sg = b.sigmoid(&c);
    let si = b.silu(&c);
    let hs = b.hardswish(&c);
    let ge = b.gelu(&c);
    let m = b.mul(&r, &sg);
    let s1 = b.add(&m, &si);
    let s2 = b.sub(&hs, &ge);
    let s3 = b.add(&lr, &cl);
    let s = b.add(&s1, &s2);
    let s = b.add(&s, &s3);
    let s = b.add(&s, &r6);
    let dw = b.scoped("dw", |b| b.conv(&s, 8, 3, 2, 1, 8, false));
    let mp = b.max_pool(&s, 3, 2, 1);
    let ap = b.avg_pool(&s, 3, 2, 1);
    let ap2 = b.avg_pool(&s, 2, 2, 0);
    let p = b.add(&mp, &ap);
    let p = b.add(&p, &ap2);
    let p = b.add(&p, &dw);
    let up = b.resize_nearest_2x(&p);
    let up4 = b.upsample(&ap2, 2);
    let cat = b.concat(&[up.as_str(), up4.as_str(), s.as_str()], 1);
    let parts = b.split(&cat, 1, &[6, 18]);
    let g = b.global_avg_pool(&parts[0]);
    let g = b.squeeze(&g, &[2, 3]);
    let g = b.unsqueeze(&g, &[1]);
    let g = b.reshape(&g, &[0, -1]);
    let f = b.flatten(&parts[1], 1);
    let f = b.scoped("fc", |b| b.gemm(&f, 12));
    let t = b.reshape(&f, &[0, 3, 4]);
    let t = b.transpose(&t, &[0, 2, 1]);
    let t = b.scoped("ln", |b| b.layer_norm(&t, 1e-5));
    let t = b.scoped("proj", |b| b.linear(&t, 6, true));
    let sm = b.softmax(&t, 1);
    let sm_last = b.softmax(&t, -1);
    let smt = b.transpose(&sm_last, &[0, 2, 1]);
    let q = b.matmul(&sm, &smt);
    let red = b.reduce_mean(&q, &[1], false);
    let z = b.pow_scalar(&red, 2.0);
    let z = b.sqrt(&z);
    let d = b.add_scalar(&red, 3.0);
    let z = b.div(&z, &d);
    let z = b.mul_scalar(&z, 2.0);
    let z = b.erf(&z);
    let z = b.div_scalar(&z, 0.5);
    b.output(&z, "out_a");
    b.output(&g, "out_b");
    b.output(&x, "x_again");
    b.finish()
}

#[test]
fn every_op_every_opset_agrees_in_tract() {
    let reference = run_in_tract(&kitchen_sink(13, false).expect("builds"), &[2, 4, 8, 8], false);
    assert_eq!(reference[0].shape(), &[2, 4]);
    assert_eq!(reference[1].shape(), &[2, 6]);
    for opset in 11..=17 {
        for constants in [false, true] {
            let m = kitchen_sink(opset, constants).expect("builds");
            let (_, ops, _, _) = names(&m);
            assert_eq!(ops.contains(&"HardSwish".to_string()), opset >= 14);
            let out = run_in_tract(&m, &[2, 4, 8, 8], false);
            for (o, r) in out.iter().zip(&reference) {
                assert_close(o, r);
            }
        }
    }
}

#[test]
fn pytorch_style_names() {
    let mut b = GraphBuilder::new(0);
    let x = b.input("input", &[1.into(), 3.into(), 8.into(), 8.into()]);
    b.push_scope("features");
    let y = b.scoped("0", |b| b.scoped("0", |b| b.conv(&x, 4, 3, 1, 1, 1, false)));
    let y = b.scoped("1", |b| b.relu(&y));
    let y = b.scoped("1", |b| b.relu(&y));
    b.pop_scope();
    let y = b.add(&y, &y);
    let y = b.add(&y, &y);
    assert_eq!(y, "/Add_1_output_0");
    b.output(&y, "output");
    b.output("output", "output_copy");
    let m = b.finish().expect("builds");
    let (nodes, _, inits, vals) = names(&m);
    assert_eq!(
        nodes,
        [
            "/features/features.0/features.0.0/Conv",
            "/features/features.1/Relu",
            "/features/features.1/Relu_1",
            "/Add",
            "/Add_1",
            "/Identity"
        ]
    );
    assert_eq!(inits, ["features.0.0.weight"]);
    assert_eq!(vals[0], "/features/features.0/features.0.0/Conv_output_0");
    assert_eq!(vals[4], "output");
    let g = m.graph.as_ref().expect("graph");
    assert_eq!(g.output[0].name, "output");
    assert_eq!(g.output[1].name, "output_copy");
    let out = run_in_tract(&m, &[1, 3, 8, 8], false);
    assert_close(&out[0], &out[1]);
}

#[test]
fn errors_are_reported_by_finish() {
    let mut b = GraphBuilder::new(0);
    let x = b.input("x", &[1.into(), 3.into(), 4.into(), 4.into()]);
    let y = b.relu("nope");
    let z = b.relu(&y);
    b.output(&z, "out");
    let e = b.finish().expect_err("unknown value");
    assert!(format!("{e:#}").contains("nope"), "{e:#}");
    let _ = x;

    let mut b = GraphBuilder::new(0);
    let x = b.input("x", &[1.into(), 3.into(), 4.into(), 4.into()]);
    let y = b.conv(&x, 8, 7, 1, 0, 1, false);
    b.output(&y, "out");
    assert!(b.finish().is_err(), "kernel larger than input");

    let mut b = GraphBuilder::new(0);
    let x = b.input("x", &[1.into(), 6.into(), 4.into(), 4.into()]);
    let y = b.conv(&x, 8, 3, 1, 1, 4, false);
    b.output(&y, "out");
    assert!(b.finish().is_err(), "channels not divisible by group");

    let mut b = GraphBuilder::new(0);
    let x = b.input("x", &[1.into(), 4.into(), 4.into(), 4.into()]);
    let y = b.conv(&x, 4, 3, 1, 1, 1, false);
    let y = b.conv(&y, 4, 3, 1, 1, 1, false);
    b.output(&y, "out");
    assert!(b.finish().is_err(), "duplicate parameter names");

    let mut b = GraphBuilder::new(0).opset(19);
    let x = b.input("x", &[1.into()]);
    b.output(&x, "out");
    assert!(b.finish().is_err(), "opset 19");

    let mut b = GraphBuilder::new(0);
    let x = b.input("x", &[Dim::Sym("n".into()), 4.into()]);
    let y = b.reshape(&x, &[-1]);
    b.output(&y, "out");
    assert!(b.finish().is_err(), "reshape dropping a symbol");

    assert!(GraphBuilder::new(0).finish().is_err(), "empty graph");
}
