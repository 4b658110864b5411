//! The user's YAML spec: load, interpolate variables, validate with located diagnostics, and
//! convert to the desired [`crate::model::DesiredState`]. Knows nothing of AWS calls.
