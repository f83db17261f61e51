//! Snapshots of the optimized graph (the report, then the graph as `accelc --emit graph` prints it) for the
//! generated blocks a reader knows: each shows the fusions one expects. Files: `snapshots/egraph_*.snap`.
use crate::import::{import_bytes, ImportOptions};
use crate::rewrite::{optimize, RewriteOptions};
use accel_modelgen::{zoo, ModelProto};
use accel_ops::target::Target;

fn snapshot(name: &str, model: anyhow::Result<ModelProto>) {
    let bytes = accel_modelgen::to_bytes(&model.unwrap());
    let g = import_bytes(&bytes, None, &ImportOptions::default()).unwrap();
    let (out, report) = optimize(&g, &Target::x1(), &RewriteOptions::default()).unwrap();
    super::assert_same(&g, &out, 3);
    let text = format!("{report}\n{out}");
    insta::with_settings!({snapshot_path => "../../../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn conv_bn_relu_stack() {
    snapshot("egraph_conv_bn_relu_stack", zoo::conv_bn_relu_stack(8, 8, 8, 3, 1));
}

#[test]
fn residual_block() {
    snapshot("egraph_residual_block", zoo::residual_block(8, 8, 8, 1));
}

#[test]
fn inverted_residual_relu6() {
    snapshot("egraph_inverted_residual", zoo::inverted_residual(8, 8, 8, 4, 1));
}

#[test]
fn c2f_block_silu() {
    snapshot("egraph_c2f_block", zoo::c2f_block(8, 8, 8, 2, 1));
}

#[test]
fn transformer_block_layernorm_gelu() {
    snapshot("egraph_transformer_block", zoo::transformer_block(4, 16, 2, 1));
}
