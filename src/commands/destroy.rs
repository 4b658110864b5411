//! `evctl destroy`: plan the deletion of the spec's evctl-owned API (its namespaces and keys go
//! with it), show it, confirm like apply, delete. Nothing to destroy is success. An API evctl
//! does not own is never touched.

use super::apply::{
    carry_out, interrupt_on_signals, interrupted_before_start, require_a_way_to_confirm,
    until_interrupted,
};
use super::plan::{READ_CONCURRENCY, connect, load_spec, now};
use crate::cli::DestroyArgs;
use crate::engine::{ExecOptions, ReadOptions, guard, plan_destroy};
use crate::exit::ExitStatus;
use crate::output::Printer;

pub async fn run(args: DestroyArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let loaded = load_spec(&args.spec, args.github, printer)?;
    require_a_way_to_confirm(!args.auto_approve, "`evctl plan --destroy`")?;
    let interrupt = interrupt_on_signals();
    let (cp, retry) = connect(&args.aws).await?;
    let read = ReadOptions {
        concurrency: READ_CONCURRENCY,
        retry,
    };
    let planned = until_interrupted(
        &interrupt,
        plan_destroy(&cp, &loaded.desired.api.name, now(), read),
    )
    .await;
    let Some(prepared) = planned else {
        return Ok(interrupted_before_start(printer));
    };
    let exec = ExecOptions {
        // One step: the API's deletion.
        concurrency: 1,
        retry,
        create_settle: guard::CREATE_SETTLE,
    };
    carry_out(
        &cp,
        prepared?,
        exec,
        !args.auto_approve,
        &interrupt,
        args.github,
        None,
        printer,
    )
    .await
}
