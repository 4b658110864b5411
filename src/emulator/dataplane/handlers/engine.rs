//! The JavaScript engine that runs handler code: a few worker threads, each with its own
//! QuickJS runtime (rquickjs), fed through one queue.
//!
//! - A handler never runs on the async reactor: callers queue a [`Job`] and await its answer,
//!   so a slow handler delays only the publish or subscribe that waits for it.
//! - Each worker compiles a namespace's code once per code version (its cache is keyed by the
//!   code text) and keeps the exported `onPublish`/`onSubscribe`; events only call them.
//! - Every compile and call has a deadline, enforced by QuickJS's interrupt handler, and the
//!   runtime has a memory limit and a stack limit: `while (true) {}`, unbounded recursion or
//!   allocation end that one call with an error. A worker that was interrupted or ran out of
//!   memory starts over with a fresh runtime, and a panic ends only the job that caused it.
//! - `@aws-appsync/utils` (`utils.js`) and `@aws-appsync/utils/dynamodb` (`dynamodb.js`) are
//!   built-in modules; `console` logs through `tracing` under the target `evctl::handler`.
//!
//! This module knows nothing of AppSync's contract beyond the signals the utils throw: what a
//! returned value means is decided by the caller.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rquickjs::loader::{BuiltinLoader, BuiltinResolver};
use rquickjs::{Context, Ctx, Exception, Function, Module, Object, Persistent, Runtime, Value};
use tokio::sync::oneshot;

/// The `@aws-appsync/utils` module.
const UTILS: &str = include_str!("utils.js");
/// The `@aws-appsync/utils/dynamodb` module.
const DYNAMODB: &str = include_str!("dynamodb.js");
/// `console`, installed as a global in every context.
const CONSOLE: &str = r#"(() => {
  const native = globalThis.__evctl;
  const show = (value) => {
    if (typeof value === 'string') return value;
    try {
      const text = JSON.stringify(value);
      return text === undefined ? String(value) : text;
    } catch (e) {
      return String(value);
    }
  };
  const write = (level) => (...args) => native.log(level, args.map(show).join(' '));
  globalThis.console = {
    log: write('log'), info: write('info'), debug: write('debug'),
    warn: write('warn'), error: write('error'),
  };
})();"#;
/// The property that marks a value thrown by `util.error`, `util.unauthorized` or
/// `runtime.earlyReturn` (see `utils.js`).
const SIGNAL: &str = "__evctlSignal";
/// The module name shown in stack traces.
const MODULE_NAME: &str = "codeHandlers";

/// Heap limit of each worker's runtime.
pub const MEMORY_LIMIT: usize = 64 * 1024 * 1024;
/// Stack limit of each worker's runtime (deep recursion fails with a RangeError).
const STACK_LIMIT: usize = 1024 * 1024;
/// The worker threads' own stacks: well above the runtime's limit.
const THREAD_STACK: usize = 8 * 1024 * 1024;
/// Code versions a worker keeps compiled. QuickJS cannot unload a module, so a worker that
/// would hold more starts over with a fresh runtime (an edit-heavy `evctl dev` session).
const MAX_MODULES: usize = 32;

/// Which handler to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Publish,
    Subscribe,
}

impl Operation {
    pub fn export_name(self) -> &'static str {
        match self {
            Operation::Publish => "onPublish",
            Operation::Subscribe => "onSubscribe",
        }
    }
}

/// What running the code produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The module does not export a handler for the operation.
    Absent,
    /// The handler returned (or `runtime.earlyReturn`ed) this value, as JSON text; `None` is
    /// `undefined`.
    Returned(Option<String>),
}

/// Why a handler did not return normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// `util.error(message, errorType)`.
    Error {
        message: String,
        error_type: Option<String>,
    },
    /// `util.unauthorized()`.
    Unauthorized,
    /// An exception, a syntax error, exhausted memory or stack, or a broken runtime.
    Crashed(String),
    /// The call (or the module's evaluation) ran past its deadline.
    TimedOut(Duration),
}

/// A handler to run.
#[derive(Debug)]
pub struct Job {
    pub code: Arc<str>,
    pub operation: Operation,
    /// The `ctx` argument, as JSON text.
    pub context: String,
    /// Who the handler's `console` output is attributed to (e.g. `namespace rooms`).
    pub label: String,
    pub timeout: Duration,
}

struct Queued {
    job: Job,
    reply: oneshot::Sender<Result<Verdict, Failure>>,
}

/// The worker threads and their queue.
#[derive(Debug)]
pub struct Pool {
    queue: mpsc::Sender<Queued>,
}

impl Pool {
    /// Starts `workers` threads (at least one).
    pub fn start(workers: usize) -> std::io::Result<Pool> {
        let (queue, jobs) = mpsc::channel::<Queued>();
        let jobs = Arc::new(Mutex::new(jobs));
        for n in 0..workers.max(1) {
            let jobs = jobs.clone();
            std::thread::Builder::new()
                .name(format!("evctl-handler-{n}"))
                .stack_size(THREAD_STACK)
                .spawn(move || work(&jobs))?;
        }
        Ok(Pool { queue })
    }

    /// Runs a job on the first free worker.
    pub async fn run(&self, job: Job) -> Result<Verdict, Failure> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Queued { job, reply })
            .map_err(|_| Failure::Crashed("the handler runtime has stopped".into()))?;
        answer.await.map_err(|_| {
            Failure::Crashed("the handler runtime stopped while running the handler".into())
        })?
    }
}

/// A worker thread: takes jobs until the queue closes (the data plane is gone).
fn work(jobs: &Mutex<mpsc::Receiver<Queued>>) {
    let mut worker: Option<Worker> = None;
    loop {
        let next = {
            let jobs = jobs.lock().unwrap_or_else(|e| e.into_inner());
            jobs.recv()
        };
        let Ok(Queued { job, reply }) = next else {
            return;
        };
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let worker = match &mut worker {
                Some(w) => w,
                slot @ None => slot.insert(Worker::new().map_err(|e| {
                    Failure::Crashed(format!("could not start the JavaScript runtime: {e}"))
                })?),
            };
            worker.run(&job)
        }));
        let result = match outcome {
            Ok(result) => result,
            Err(_) => {
                worker = None;
                Err(Failure::Crashed(
                    "the handler runtime failed unexpectedly (a bug in evctl); it was restarted"
                        .into(),
                ))
            }
        };
        // A worker that was interrupted or exhausted its memory starts over: the cost is one
        // recompile, and no state of a broken call can leak into the next.
        if matches!(&result, Err(Failure::TimedOut(_)))
            || matches!(&result, Err(Failure::Crashed(m)) if m.contains("out of memory"))
        {
            worker = None;
        }
        let _ = reply.send(result);
    }
}

/// A compiled handler export.
#[derive(Clone)]
enum Export {
    Function(Persistent<Function<'static>>),
    /// `{ request, response }`, for a data-source integration.
    Object {
        request: Persistent<Function<'static>>,
        response: Persistent<Function<'static>>,
    },
}

#[derive(Clone, Default)]
struct Exports {
    on_publish: Option<Export>,
    on_subscribe: Option<Export>,
}

struct Compiled {
    code: Arc<str>,
    exports: Result<Exports, Failure>,
}

/// One QuickJS runtime and what it compiled. Field order is drop order: the compiled
/// functions must go before the context and runtime that own them.
struct Worker {
    modules: HashMap<u64, Compiled>,
    deadline: Rc<Cell<Option<Instant>>>,
    label: Rc<RefCell<String>>,
    context: Context,
    _runtime: Runtime,
}

impl Worker {
    fn new() -> rquickjs::Result<Worker> {
        let runtime = Runtime::new()?;
        runtime.set_memory_limit(MEMORY_LIMIT);
        runtime.set_max_stack_size(STACK_LIMIT);
        let deadline: Rc<Cell<Option<Instant>>> = Rc::default();
        let expired = deadline.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || {
            expired.get().is_some_and(|d| Instant::now() >= d)
        })));
        runtime.set_loader(
            BuiltinResolver::default()
                .with_module("@aws-appsync/utils")
                .with_module("@aws-appsync/utils/dynamodb"),
            BuiltinLoader::default()
                .with_module("@aws-appsync/utils", UTILS)
                .with_module("@aws-appsync/utils/dynamodb", DYNAMODB),
        );
        let context = Context::full(&runtime)?;
        let label: Rc<RefCell<String>> = Rc::default();
        context.with(|ctx| install_natives(&ctx, label.clone()))?;
        Ok(Worker {
            modules: HashMap::new(),
            deadline,
            label,
            context,
            _runtime: runtime,
        })
    }

    fn run(&mut self, job: &Job) -> Result<Verdict, Failure> {
        self.label.replace(job.label.clone());
        let exports = self.exports(&job.code, job.timeout)?;
        let export = match job.operation {
            Operation::Publish => exports.on_publish,
            Operation::Subscribe => exports.on_subscribe,
        };
        let Some(export) = export else {
            return Ok(Verdict::Absent);
        };
        self.with_deadline(job.timeout, |ctx| call(ctx, &export, &job.context))
    }

    /// The exports of `code`, compiled on first use.
    fn exports(&mut self, code: &Arc<str>, timeout: Duration) -> Result<Exports, Failure> {
        let mut hasher = DefaultHasher::new();
        code.hash(&mut hasher);
        let key = hasher.finish();
        if let Some(compiled) = self.modules.get(&key)
            && compiled.code == *code
        {
            return compiled.exports.clone();
        }
        if self.modules.len() >= MAX_MODULES {
            *self = Worker::new().map_err(|e| {
                Failure::Crashed(format!("could not restart the JavaScript runtime: {e}"))
            })?;
        }
        let exports = self.with_deadline(timeout, |ctx| compile(ctx, code));
        // A module that timed out is not kept: the worker is replaced anyway.
        if !matches!(exports, Err(Failure::TimedOut(_))) {
            self.modules.insert(
                key,
                Compiled {
                    code: code.clone(),
                    exports: exports.clone(),
                },
            );
        }
        exports
    }

    /// Runs `f` in the context with the interrupt deadline set; a failure after the deadline
    /// is reported as [`Failure::TimedOut`].
    fn with_deadline<R>(
        &self,
        timeout: Duration,
        f: impl FnOnce(&Ctx<'_>) -> Result<R, Failure>,
    ) -> Result<R, Failure> {
        self.deadline.set(Some(Instant::now() + timeout));
        let result = self.context.with(|ctx| f(&ctx));
        let expired = self.deadline.get().is_some_and(|d| Instant::now() >= d);
        self.deadline.set(None);
        match result {
            Err(_) if expired => Err(Failure::TimedOut(timeout)),
            other => other,
        }
    }
}

/// Installs `__evctl` (the natives `utils.js` and `console` use) and `console`.
fn install_natives(ctx: &Ctx<'_>, label: Rc<RefCell<String>>) -> rquickjs::Result<()> {
    let natives = Object::new(ctx.clone())?;
    natives.set(
        "base64Encode",
        Function::new(ctx.clone(), |text: String| {
            base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
        })?,
    )?;
    natives.set(
        "base64Decode",
        Function::new(ctx.clone(), |ctx: Ctx<'_>, text: String| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.trim().as_bytes())
                .map_err(|e| Exception::throw_type(&ctx, &format!("util.base64Decode: {e}")))?;
            Ok::<_, rquickjs::Error>(String::from_utf8_lossy(&bytes).into_owned())
        })?,
    )?;
    natives.set(
        "autoId",
        Function::new(ctx.clone(), || uuid::Uuid::new_v4().to_string())?,
    )?;
    let who = label.clone();
    natives.set(
        "appendError",
        Function::new(ctx.clone(), move |error: String| {
            tracing::warn!(target: "evctl::handler", "{}: util.appendError {error}", who.borrow());
        })?,
    )?;
    natives.set(
        "log",
        Function::new(ctx.clone(), move |level: String, text: String| {
            let who = label.borrow();
            match level.as_str() {
                "warn" | "error" => {
                    tracing::warn!(target: "evctl::handler", "{who}: console.{level}: {text}")
                }
                _ => tracing::info!(target: "evctl::handler", "{who}: console.{level}: {text}"),
            }
        })?,
    )?;
    ctx.globals().set("__evctl", natives)?;
    ctx.eval::<(), _>(CONSOLE)
}

/// Evaluates the module and keeps its handler exports.
fn compile(ctx: &Ctx<'_>, code: &str) -> Result<Exports, Failure> {
    let evaluated = Module::declare(ctx.clone(), MODULE_NAME, code.as_bytes()).and_then(|m| {
        let (module, done) = m.eval()?;
        done.finish::<()>()?;
        Ok(module)
    });
    let module = evaluated.map_err(|e| crashed(ctx, e))?;
    let namespace = module.namespace().map_err(|e| crashed(ctx, e))?;
    Ok(Exports {
        on_publish: export(ctx, &namespace, Operation::Publish)?,
        on_subscribe: export(ctx, &namespace, Operation::Subscribe)?,
    })
}

fn export<'js>(
    ctx: &Ctx<'js>,
    namespace: &Object<'js>,
    operation: Operation,
) -> Result<Option<Export>, Failure> {
    let name = operation.export_name();
    let value: Value = namespace.get(name).map_err(|e| crashed(ctx, e))?;
    if value.is_undefined() {
        return Ok(None);
    }
    if let Some(function) = value.as_function() {
        return Ok(Some(Export::Function(Persistent::save(
            ctx,
            function.clone(),
        ))));
    }
    let Some(object) = value.as_object() else {
        return Err(Failure::Crashed(format!(
            "the exported {name} must be a function, or an object with request and response \
             functions"
        )));
    };
    let part = |part: &str| -> Result<Persistent<Function<'static>>, Failure> {
        let value: Value = object.get(part).map_err(|e| crashed(ctx, e))?;
        value
            .as_function()
            .map(|f| Persistent::save(ctx, f.clone()))
            .ok_or_else(|| {
                Failure::Crashed(format!(
                    "the exported {name} is an object without a {part} function (a handler \
                     with a data source exports {{ request(ctx), response(ctx) }})"
                ))
            })
    };
    Ok(Some(Export::Object {
        request: part("request")?,
        response: part("response")?,
    }))
}

/// Calls a handler with `ctx` parsed from `context`.
fn call(ctx: &Ctx<'_>, export: &Export, context: &str) -> Result<Verdict, Failure> {
    let run = || -> rquickjs::Result<Option<String>> {
        let argument = ctx.json_parse(context)?;
        let returned: Value = match export {
            Export::Function(function) => function.clone().restore(ctx)?.call((argument,))?,
            Export::Object { request, response } => {
                // The request would go to the data source, which the emulator cannot reach:
                // the response function runs as if it had answered nothing.
                let _request: Value = request.clone().restore(ctx)?.call((argument.clone(),))?;
                if let Some(object) = argument.as_object() {
                    object.set("result", Value::new_null(ctx.clone()))?;
                    object.set("error", Value::new_null(ctx.clone()))?;
                }
                response.clone().restore(ctx)?.call((argument,))?
            }
        };
        stringify(ctx, returned)
    };
    match run() {
        Ok(json) => Ok(Verdict::Returned(json)),
        Err(rquickjs::Error::Exception) => thrown(ctx),
        Err(e) => Err(Failure::Crashed(e.to_string())),
    }
}

fn stringify<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> rquickjs::Result<Option<String>> {
    ctx.json_stringify(value)?
        .map(|s| s.to_string())
        .transpose()
}

/// Turns the pending exception into a verdict (for `runtime.earlyReturn`) or a failure.
fn thrown(ctx: &Ctx<'_>) -> Result<Verdict, Failure> {
    let value = ctx.catch();
    if let Some(object) = value.as_object() {
        let kind: Option<String> = object.get(SIGNAL).ok().flatten();
        match kind.as_deref() {
            Some("error") => {
                return Err(Failure::Error {
                    message: object.get("message").unwrap_or_default(),
                    error_type: object.get("errorType").ok().flatten(),
                });
            }
            Some("unauthorized") => return Err(Failure::Unauthorized),
            Some("earlyReturn") => {
                let returned: Value = object.get("value").map_err(|e| crashed(ctx, e))?;
                return stringify(ctx, returned)
                    .map(Verdict::Returned)
                    .map_err(|e| crashed(ctx, e));
            }
            _ => {}
        }
    }
    Err(Failure::Crashed(describe(ctx, value)))
}

/// The failure for an rquickjs error (an exception is taken from the context).
fn crashed(ctx: &Ctx<'_>, error: rquickjs::Error) -> Failure {
    match error {
        rquickjs::Error::Exception => Failure::Crashed(describe(ctx, ctx.catch())),
        other => Failure::Crashed(other.to_string()),
    }
}

/// `TypeError: message (at onPublish (codeHandlers:5:12))` for an Error, the JSON of any other
/// thrown value.
fn describe<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> String {
    if let Some(exception) = value
        .as_object()
        .and_then(|o| Exception::from_object(o.clone()))
    {
        let name: String = exception
            .as_object()
            .get("name")
            .unwrap_or_else(|_| "Error".into());
        let message = exception.message().unwrap_or_default();
        let location = exception.stack().and_then(|stack| {
            stack
                .lines()
                .map(str::trim)
                .find(|line| line.contains(MODULE_NAME))
                .map(|line| line.trim_start_matches("at ").to_string())
        });
        return match location {
            Some(at) => format!("{name}: {message} (at {at})"),
            None => format!("{name}: {message}"),
        };
    }
    let shown = stringify(ctx, value.clone())
        .ok()
        .flatten()
        .unwrap_or_else(|| format!("{value:?}"));
    format!("uncaught {shown}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(code: &str, operation: Operation, context: &str) -> Job {
        Job {
            code: Arc::from(code),
            operation,
            context: context.into(),
            label: "test".into(),
            timeout: Duration::from_secs(5),
        }
    }

    fn run(code: &str, context: &str) -> Result<Verdict, Failure> {
        let mut worker = Worker::new().expect("runtime");
        worker.run(&job(code, Operation::Publish, context))
    }

    #[test]
    fn a_function_export_gets_ctx_and_its_return_value_comes_back_as_json() {
        let code = "export function onPublish(ctx) { return ctx.events.map((e) => ({ id: e.id, payload: { ...e.payload, seen: ctx.info.channel.path } })) }";
        let verdict = run(
            code,
            r#"{"events":[{"id":"1","payload":{"b":1,"a":2}}],"info":{"channel":{"path":"/ns/x"}}}"#,
        );
        assert_eq!(
            verdict,
            Ok(Verdict::Returned(Some(
                r#"[{"id":"1","payload":{"b":1,"a":2,"seen":"/ns/x"}}]"#.into()
            )))
        );
    }

    #[test]
    fn a_missing_export_is_absent_and_undefined_is_none() {
        assert_eq!(
            run("export const onSubscribe = () => {}", "{}"),
            Ok(Verdict::Absent)
        );
        assert_eq!(
            run("export const onPublish = () => {}", "{}"),
            Ok(Verdict::Returned(None))
        );
    }

    #[test]
    fn utils_signals_become_failures_or_early_returns() {
        let error = r#"import { util } from '@aws-appsync/utils';
            export function onPublish() { util.error('no spam', 'SpamError') }"#;
        assert_eq!(
            run(error, "{}"),
            Err(Failure::Error {
                message: "no spam".into(),
                error_type: Some("SpamError".into())
            })
        );
        let unauthorized = r#"import { util } from '@aws-appsync/utils';
            export const onPublish = () => util.unauthorized();"#;
        assert_eq!(run(unauthorized, "{}"), Err(Failure::Unauthorized));
        let early = r#"import { runtime } from '@aws-appsync/utils';
            export const onPublish = {
              request: (ctx) => runtime.earlyReturn(ctx.events),
              response: () => 'never',
            };"#;
        assert_eq!(
            run(early, r#"{"events":[1]}"#),
            Ok(Verdict::Returned(Some("[1]".into())))
        );
    }

    #[test]
    fn the_object_form_runs_response_with_a_null_result() {
        let code = r#"import * as ddb from '@aws-appsync/utils/dynamodb';
            export const onPublish = {
              request: (ctx) => { ctx.stash.asked = ddb.batchPut({ tables: {} }).operation; return {}; },
              response: (ctx) => [ctx.result, ctx.stash.asked],
            };"#;
        assert_eq!(
            run(code, r#"{"stash":{}}"#),
            Ok(Verdict::Returned(Some(r#"[null,"BatchPutItem"]"#.into())))
        );
    }

    #[test]
    fn utilities_behave_like_appsyncs() {
        let code = r#"import { util } from '@aws-appsync/utils';
            export const onPublish = () => [
              util.base64Encode('héllo'), util.base64Decode('aMOpbGxv'),
              util.urlEncode("a b&c=d!"), util.urlDecode('a+b%26c'),
              util.autoId().length, typeof util.time.nowEpochMilliSeconds(),
              util.time.nowISO8601().endsWith('Z'), util.isNullOrBlank('  '), util.typeOf([]),
            ];"#;
        assert_eq!(
            run(code, "{}"),
            Ok(Verdict::Returned(Some(
                r#"["aMOpbGxv","héllo","a+b%26c%3Dd%21","a b&c",36,"number",true,true,"List"]"#
                    .into()
            )))
        );
    }

    #[test]
    fn exceptions_and_syntax_errors_are_described_with_their_location() {
        let Err(Failure::Crashed(message)) = run(
            "export function onPublish(ctx) {\n  return ctx.nothing.here;\n}",
            "{}",
        ) else {
            panic!("expected a crash");
        };
        assert!(message.starts_with("TypeError: "), "{message}");
        assert!(message.contains("codeHandlers:2"), "{message}");
        let Err(Failure::Crashed(message)) = run("export function onPublish( {", "{}") else {
            panic!("expected a syntax error");
        };
        assert!(message.starts_with("SyntaxError: "), "{message}");
        let Err(Failure::Crashed(message)) = run("export const onPublish = 42;", "{}") else {
            panic!("expected a bad export");
        };
        assert!(message.contains("must be a function"), "{message}");
    }

    #[test]
    fn a_loop_is_interrupted_at_the_deadline_and_the_worker_recovers() {
        let mut worker = Worker::new().expect("runtime");
        let mut forever = job(
            "export function onPublish() { for (;;) {} }",
            Operation::Publish,
            "{}",
        );
        forever.timeout = Duration::from_millis(100);
        let started = Instant::now();
        assert_eq!(
            worker.run(&forever),
            Err(Failure::TimedOut(Duration::from_millis(100)))
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        let fine = job(
            "export const onPublish = () => [];",
            Operation::Publish,
            "{}",
        );
        assert_eq!(worker.run(&fine), Ok(Verdict::Returned(Some("[]".into()))));
    }

    #[test]
    fn runaway_allocation_and_recursion_fail_the_call_only() {
        let hog =
            "export function onPublish() { const a = []; for (;;) { a.push('x'.repeat(1024)); } }";
        let Err(Failure::Crashed(message)) = run(hog, "{}") else {
            panic!("expected out of memory");
        };
        assert!(message.contains("out of memory"), "{message}");
        let deep = "function f(n) { return f(n + 1) + 1; }\nexport const onPublish = () => f(0);";
        let Err(Failure::Crashed(message)) = run(deep, "{}") else {
            panic!("expected a stack overflow");
        };
        assert!(message.contains("stack"), "{message}");
    }

    #[tokio::test]
    async fn the_pool_answers_from_its_threads_and_compiles_once_per_code_version() {
        let pool = Pool::start(1).expect("threads");
        // A module-level counter shows whether the module was evaluated again.
        let code =
            "let calls = 0;\nexport const onPublish = () => { calls += 1; return [calls]; };";
        for expected in ["[1]", "[2]", "[3]"] {
            let verdict = pool.run(job(code, Operation::Publish, "{}")).await;
            assert_eq!(verdict, Ok(Verdict::Returned(Some(expected.into()))));
        }
        let edited = format!("{code}\n// edited");
        let verdict = pool.run(job(&edited, Operation::Publish, "{}")).await;
        assert_eq!(verdict, Ok(Verdict::Returned(Some("[1]".into()))));
    }
}
