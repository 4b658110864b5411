//! The declarative engine: `diff(desired, observed) -> Plan` (pure) and the execution of a
//! `Plan` against a `ControlPlane`. Knows neither YAML nor the SDK.
