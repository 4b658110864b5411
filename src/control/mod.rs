//! The control-plane boundary: the `ControlPlane` trait, its one implementation on
//! `aws-sdk-appsync` (the only code that imports the SDK), and the mapping of SDK errors to
//! [`ControlError`] in one place.
