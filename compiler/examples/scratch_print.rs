use accel_compiler::import::{import_bytes, ImportOptions};
use accel_modelgen::zoo;
fn main() {
    let ms = vec![
        ("stack", zoo::conv_bn_relu_stack(8, 8, 8, 2, 1).unwrap()),
        ("res", zoo::residual_block(8, 8, 8, 1).unwrap()),
        ("inv", zoo::inverted_residual(8, 8, 8, 4, 1).unwrap()),
        ("c2f", zoo::c2f_block(8, 8, 8, 1, 1).unwrap()),
        ("tr", zoo::transformer_block(4, 16, 2, 1).unwrap()),
    ];
    for (n, m) in ms {
        let g = import_bytes(&accel_modelgen::to_bytes(&m), None, &ImportOptions::default()).unwrap();
        println!("== {n}\n{g}");
    }
}
