//! Tests of placement: extraction chooses tile or host per node from the cost model.
use super::{check_with, B};
use crate::ir::Placement;
use crate::rewrite::RewriteOptions;
use accel_ops::op::{MatMul, Op, Softmax, UnaryOp};
use accel_ops::target::Target;

#[test]
fn supported_ops_run_on_the_tiles_others_on_the_host() {
    let mut b = B::new();
    let x = b.input(&[2, 8]);
    let r = b.unary("relu", UnaryOp::Relu, x);
    let s = b.op("softmax", Op::Softmax(Softmax { axis: 1, log: false }), &[r]);
    let g = b.finish(&[s]);
    let (_, rep) = check_with(
        &g,
        &Target::x1(),
        &RewriteOptions::default(),
        Some("place/host-fallback"),
        &["relu.out = relu(in0) : f32[2x8] @tile", "softmax.out = softmax(relu.out) : f32[2x8] @host"],
    );
    assert_eq!((rep.tile_after, rep.host_after), (1, 1));
}

#[test]
fn an_op_the_tiles_list_but_cannot_run_as_given_goes_to_the_host() {
    // A matmul of two activations: the tiles need a constant right-hand side.
    let mut b = B::new();
    let x = b.input(&[4, 8]);
    let y = b.input(&[8, 4]);
    let m = b.op("mm", Op::MatMul(MatMul), &[x, y]);
    let g = b.finish(&[m]);
    check_with(
        &g,
        &Target::x1(),
        &RewriteOptions::default(),
        Some("place/host-fallback"),
        &["mm.out = matmul(in0, in1) : f32[4x4] @host"],
    );
}

#[test]
fn without_the_host_twin_the_tile_node_stays() {
    let mut b = B::new();
    let x = b.input(&[4, 8]);
    let y = b.input(&[8, 4]);
    let m = b.op("mm", Op::MatMul(MatMul), &[x, y]);
    let g = b.finish(&[m]);
    let opts = RewriteOptions { disabled: vec!["place/".into()], ..Default::default() };
    check_with(&g, &Target::x1(), &opts, None, &["mm.out = matmul(in0, in1) : f32[4x4] @tile"]);
}

#[test]
fn a_target_without_conv_puts_convs_on_the_host() {
    let mut t = Target::x1();
    t.tile.ops.retain(|o| o != "conv");
    let mut b = B::new();
    let x = b.input(&[1, 3, 5, 5]);
    let c = b.conv("c", x, 4, 3, true);
    let y = b.unary("relu", UnaryOp::Relu, c);
    let g = b.finish(&[y]);
    // The host applies the activation as it computes the convolution, so it still fuses.
    check_with(
        &g,
        &t,
        &RewriteOptions::default(),
        None,
        &["relu.out = conv.relu(in0, const f32[4x3x3x3], const f32[4]) : f32[1x4x5x5] @host"],
    );
}

#[test]
fn a_node_forced_to_the_host_stays_there() {
    let mut b = B::new();
    let x = b.input(&[1, 3, 5, 5]);
    let c = b.conv("c", x, 4, 3, true);
    let y = b.unary("relu", UnaryOp::Relu, c);
    let mut g = b.finish(&[y]);
    g.set_placement(crate::ir::NodeId(0), Placement::Host);
    let (out, _) = check_with(
        &g,
        &Target::x1(),
        &RewriteOptions::default(),
        None,
        &["c.out = conv(in0, const f32[4x3x3x3], const f32[4]) : f32[1x4x5x5] @host"],
    );
    assert_eq!(out.nodes[1].placement, Placement::Tile);
}
