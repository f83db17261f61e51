//! Resize forms tract does not run (tf_crop_and_resize, antialias, align_corners on a fractional length) against
//! the values ONNX's reference (`onnx/reference/ops/op_resize.py`) gives on the conformance inputs, and their
//! bad-input errors.
use super::builder::{af, ai, ais, astr, M};
use super::{assert_close, import, run_accel};
use tract_onnx::pb::AttributeProto;

/// The 4x4 plane 1..=16 the ONNX Resize cases use.
fn plane16() -> (Vec<usize>, Vec<f32>) {
    (vec![1, 1, 4, 4], (1..=16).map(|v| v as f32).collect())
}

/// Imports a Resize of `x` (opset 18) whose constant inputs are `consts` (name, dims, values; "sizes" as
/// int64), runs it on `input` and compares with `want` (1e-4 + 1e-3 relative).
fn check(
    input: (Vec<usize>, Vec<f32>),
    consts: &[(&str, &[i64], &[f32])],
    attrs: Vec<AttributeProto>,
    want: (Vec<usize>, Vec<f32>),
) {
    let dims: Vec<i64> = input.0.iter().map(|&d| d as i64).collect();
    let m = model(&dims, consts, attrs);
    let g = import(&m.bytes()).unwrap_or_else(|e| panic!("import failed: {e}"));
    assert_close("resize", &run_accel(&g, &[input]), &[want]);
}

fn model(dims: &[i64], consts: &[(&str, &[i64], &[f32])], attrs: Vec<AttributeProto>) -> M {
    let mut m = M::new(18).input("x", dims);
    let mut inputs = vec!["x", "", "", ""];
    for &(name, d, v) in consts {
        let slot = match name {
            "roi" => 1,
            "scales" => 2,
            _ => 3,
        };
        inputs[slot] = name;
        m = if slot == 3 {
            let ints: Vec<i64> = v.iter().map(|&f| f as i64).collect();
            m.init_i64(name, d, &ints)
        } else {
            m.init_f32(name, d, v)
        };
    }
    while inputs.last() == Some(&"") {
        inputs.pop();
    }
    m.node("Resize", &inputs, &["y"], attrs).output("y")
}

fn import_err(dims: &[i64], consts: &[(&str, &[i64], &[f32])], attrs: Vec<AttributeProto>) -> String {
    import(&model(dims, consts, attrs).bytes()).map(|_| ()).unwrap_err().to_string()
}

fn crop_attrs() -> Vec<AttributeProto> {
    vec![astr("mode", "linear"), astr("coordinate_transformation_mode", "tf_crop_and_resize")]
}

#[test]
fn tf_crop_and_resize_matches_the_reference() {
    let roi: &[f32] = &[0.0, 0.0, 0.4, 0.6, 1.0, 1.0, 0.6, 0.8];
    let want = vec![7.6, 7.9, 8.2, 8.8, 9.1, 9.4, 10.0, 10.3, 10.6];
    check(
        plane16(),
        &[("roi", &[8], roi), ("sizes", &[4], &[1.0, 1.0, 3.0, 3.0])],
        crop_attrs(),
        (vec![1, 1, 3, 3], want.clone()),
    );
    // The same crop given for axes (3, 2): roi and sizes follow the axes' order.
    let mut attrs = crop_attrs();
    attrs.push(ais("axes", &[3, 2]));
    let roi: &[f32] = &[0.6, 0.4, 0.8, 0.6];
    check(plane16(), &[("roi", &[4], roi), ("sizes", &[2], &[3.0, 3.0])], attrs, (vec![1, 1, 3, 3], want));
}

/// Sources past the input's last index give `extrapolation_value` instead of an edge.
#[test]
fn tf_crop_and_resize_extrapolates_outside_the_input() {
    let mut attrs = crop_attrs();
    attrs.push(af("extrapolation_value", 10.0));
    let roi: &[f32] = &[0.0, 0.0, 0.4, 0.6, 1.0, 1.0, 1.2, 1.7];
    let want = vec![7.6, 10.0, 10.0, 12.4, 10.0, 10.0, 10.0, 10.0, 10.0];
    check(plane16(), &[("roi", &[8], roi), ("sizes", &[4], &[1.0, 1.0, 3.0, 3.0])], attrs, (vec![1, 1, 3, 3], want));
}

/// Scale 0.6 on length 4 gives 2 outputs, aligned to the unrounded length 2.4: x = y * 3 / 1.4.
#[test]
fn align_corners_divides_by_the_unrounded_length() {
    let linear = vec![astr("mode", "linear"), astr("coordinate_transformation_mode", "align_corners")];
    let x = (vec![1, 1, 2, 4], (1..=8).map(|v| v as f32).collect());
    check(x, &[("scales", &[4], &[1.0, 1.0, 0.6, 0.6])], linear, (vec![1, 1, 1, 2], vec![1.0, 3.142857]));
    let cubic = vec![astr("mode", "cubic"), astr("coordinate_transformation_mode", "align_corners")];
    let want = vec![1.0, 2.3951917, 3.7903833, 6.580766, 7.975958, 9.371149, 12.161533, 13.556724, 14.951916];
    check(plane16(), &[("scales", &[4], &[1.0, 1.0, 0.8, 0.8])], cubic, (vec![1, 1, 3, 3], want));
}

/// Downsampling with antialias stretches the filter by 1 / scale and renormalizes its weights.
#[test]
fn antialias_matches_the_reference() {
    let scales: &[f32] = &[1.0, 1.0, 0.6, 0.6];
    let sizes: &[f32] = &[1.0, 1.0, 3.0, 3.0];
    let attrs = |mode: &str| vec![astr("mode", mode), ai("antialias", 1)];
    check(plane16(), &[("scales", &[4], scales)], attrs("linear"), (vec![1, 1, 2, 2], vec![2.875, 4.5, 9.375, 11.0]));
    let want = vec![2.3636363, 3.590909, 4.818182, 7.2727275, 8.5, 9.727273, 12.181818, 13.409091, 14.636364];
    check(plane16(), &[("sizes", &[4], sizes)], attrs("linear"), (vec![1, 1, 3, 3], want));
    check(
        plane16(),
        &[("scales", &[4], scales)],
        attrs("cubic"),
        (vec![1, 1, 2, 2], vec![2.5180721, 4.2858863, 9.589329, 11.357142]),
    );
    let want = vec![1.7750092, 3.1200073, 4.4650054, 7.1550016, 8.5, 9.844998, 12.534994, 13.8799925, 15.224991];
    check(plane16(), &[("sizes", &[4], sizes)], attrs("cubic"), (vec![1, 1, 3, 3], want));
}

/// Upsampling is unchanged by antialias.
#[test]
fn antialias_upsampling_is_plain_linear() {
    let x = (vec![1, 1, 2, 2], vec![0.0, 2.0, 4.0, 6.0]);
    let attrs = vec![astr("mode", "linear"), ai("antialias", 1), astr("coordinate_transformation_mode", "asymmetric")];
    let want = vec![0.0, 1.0, 2.0, 2.0, 2.0, 3.0, 4.0, 4.0, 4.0, 5.0, 6.0, 6.0, 4.0, 5.0, 6.0, 6.0];
    check(x, &[("scales", &[4], &[1.0, 1.0, 2.0, 2.0])], attrs, (vec![1, 1, 4, 4], want));
}

#[test]
fn bad_roi_is_an_error() {
    let sizes: (&str, &[i64], &[f32]) = ("sizes", &[4], &[1.0, 1.0, 3.0, 3.0]);
    let e = import_err(&[1, 1, 4, 4], &[sizes], crop_attrs());
    assert!(e.contains("roi"), "{e}");
    let e = import_err(&[1, 1, 4, 4], &[("roi", &[4], &[0.0, 0.0, 1.0, 1.0]), sizes], crop_attrs());
    assert!(e.contains("roi has 4 values, want 8"), "{e}");
    let nan: &[f32] = &[0.0, 0.0, f32::NAN, 0.0, 1.0, 1.0, 1.0, 1.0];
    let e = import_err(&[1, 1, 4, 4], &[("roi", &[8], nan), sizes], crop_attrs());
    assert!(e.contains("finite"), "{e}");
    let channels: &[f32] = &[0.0, 0.5, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0];
    let e = import_err(&[1, 2, 4, 4], &[("roi", &[8], channels), ("sizes", &[4], &[1.0, 2.0, 3.0, 3.0])], crop_attrs());
    assert!(e.contains("crops axis 1"), "{e}");
}
