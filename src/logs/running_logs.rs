//! The log pipelines of a config at work, as a library for `driftless logs`, `execute` and
//! the agent: start them, reload them with a new config, stop them, read their metrics, or
//! run them once over what their files hold.
//!
//! Each pipeline runs on a thread of its own ([`log_pipeline::run`]); this is its controller.
//! Checkpoints live in `<state dir>/logs/<pipeline id>/`, so a pipeline restarted — by a
//! reload with a changed config, or by the next process — goes on from its positions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::LogError;
use super::log_pipeline::{Control, Drain, Mode, PipelineStats, RunEnd};
use crate::metrics::family::Family;
use crate::model::logs::{LogFilter, LogPipeline};
use crate::plugins::Plugins;
use crate::secrets::Secrets;

/// How long a stopping pipeline waits for its outputs to deliver what it pushed before the
/// last checkpoint.
const STOP_DRAIN: Duration = Duration::from_secs(2);
/// How long its outputs then get to take their last batches.
const STOP_CLOSE: Duration = Duration::from_millis(1500);
/// When a pipeline that has not ended (blocked on an output that is down) is given up on:
/// acknowledgements frozen, its outputs' gates closed.
const STOP_GIVE_UP: Duration = Duration::from_secs(4);
/// And how long it then gets to end before it is left behind.
const STOP_LAST: Duration = Duration::from_secs(1);

/// What the pipelines need from the host: where their state goes, the host's name (`{host}`
/// in output names, syslog's hostname) and the secrets outputs read their credentials from.
#[derive(Clone)]
pub struct LogContext {
    pub state_dir: PathBuf,
    pub host: String,
    pub secrets: Arc<Secrets>,
    /// The config's plugins, for `plugin` filters.
    pub plugins: Arc<Plugins>,
}

impl LogContext {
    /// `<state dir>/logs/<pipeline id>`: the pipeline's checkpoints and default spools.
    pub fn pipeline_dir(&self, id: &str) -> PathBuf {
        pipeline_dir(&self.state_dir, id)
    }
}

/// `<state dir>/logs/<pipeline id>`.
pub fn pipeline_dir(state_dir: &Path, id: &str) -> PathBuf {
    state_dir.join("logs").join(id)
}

/// A built pipeline's run, to be called on its thread.
pub(crate) type PipelineRun =
    Box<dyn FnOnce(Mode, Drain, &Control, &PipelineStats) -> RunEnd + Send>;

/// A pipeline's thread once started: how to stop it, and its end.
type Started = (Arc<Control>, JoinHandle<RunEnd>);

/// A pipeline built and ready to run on a thread: its parts, with their types erased.
pub(crate) struct Built {
    pub run: PipelineRun,
    pub stats: Arc<PipelineStats>,
}

/// How a pipeline is built from its config (the real parts; fakes in tests).
pub(crate) type Builder = fn(&LogPipeline, &LogContext) -> Result<Built, LogError>;

/// The counters of the running pipelines, shared with whoever renders the metrics.
type SharedStats = Arc<std::sync::Mutex<Vec<Arc<PipelineStats>>>>;

struct Running {
    id: String,
    /// The config it runs, as JSON: a reload compares it.
    config: serde_json::Value,
    control: Arc<Control>,
    stats: Arc<PipelineStats>,
    thread: JoinHandle<RunEnd>,
}

/// The running pipelines of a config.
pub struct RunningLogs {
    running: Vec<Running>,
    shared: SharedStats,
    cx: LogContext,
    build: Builder,
}

impl RunningLogs {
    /// Starts every pipeline on a thread of its own. A pipeline that cannot start (an output
    /// that cannot be opened, a secret that is missing) is an error naming it; the others
    /// are stopped again, so a config runs whole or not at all.
    pub fn start(pipelines: &[LogPipeline], cx: &LogContext) -> Result<RunningLogs, LogError> {
        RunningLogs::start_with(pipelines, cx, super::pipeline_parts::build)
    }

    pub(crate) fn start_with(
        pipelines: &[LogPipeline],
        cx: &LogContext,
        build: Builder,
    ) -> Result<RunningLogs, LogError> {
        let mut logs = RunningLogs {
            running: Vec::new(),
            shared: SharedStats::default(),
            cx: cx.clone(),
            build,
        };
        let mut errors = Vec::new();
        for pipeline in pipelines {
            match logs.spawn(pipeline) {
                Ok(running) => logs.running.push(running),
                Err(e) => errors.push(e.message),
            }
        }
        logs.share();
        if errors.is_empty() {
            Ok(logs)
        } else {
            logs.stop();
            Err(LogError::new(errors.join("; ")))
        }
    }

    fn spawn(&self, pipeline: &LogPipeline) -> Result<Running, LogError> {
        let id = pipeline.id.value.clone();
        let built = (self.build)(pipeline, &self.cx)
            .map_err(|e| LogError::new(format!("logs.{id}: {e}")))?;
        let control = Arc::new(Control::default());
        let thread = {
            let (control, stats) = (control.clone(), built.stats.clone());
            std::thread::Builder::new()
                .name(format!("driftless-log-{}", thread_name(&id)))
                .spawn(move || {
                    (built.run)(
                        Mode::Follow,
                        Drain {
                            grace: Some(STOP_DRAIN),
                            close: Some(STOP_CLOSE),
                        },
                        &control,
                        &stats,
                    )
                })
                .map_err(|e| LogError::new(format!("logs.{id}: cannot start its thread: {e}")))?
        };
        Ok(Running {
            id,
            config: config_value(pipeline, &self.cx.plugins),
            control,
            stats: built.stats,
            thread,
        })
    }

    /// Runs `pipelines` instead: unchanged ones keep running with their positions; changed
    /// ones are stopped (checkpointed) and started again from their checkpoints; removed
    /// ones are stopped; new ones started. A pipeline that cannot start is an error naming
    /// it, and the others run. `plugins` are the new config's: a pipeline whose plugin
    /// filter's plugin changed is a changed pipeline.
    pub fn reload(
        &mut self,
        pipelines: &[LogPipeline],
        plugins: Arc<Plugins>,
    ) -> Result<(), LogError> {
        self.cx.plugins = plugins;
        let wanted: BTreeMap<&str, &LogPipeline> =
            pipelines.iter().map(|p| (p.id.value.as_str(), p)).collect();
        let (keep, retire): (Vec<Running>, Vec<Running>) = std::mem::take(&mut self.running)
            .into_iter()
            .partition(|r| {
                wanted
                    .get(r.id.as_str())
                    .is_some_and(|p| config_value(p, &self.cx.plugins) == r.config)
                    && !r.thread.is_finished()
            });
        stop_all(retire);
        self.running = keep;
        let mut errors = Vec::new();
        for pipeline in pipelines {
            if self.running.iter().any(|r| r.id == pipeline.id.value) {
                continue;
            }
            match self.spawn(pipeline) {
                Ok(running) => self.running.push(running),
                Err(e) => errors.push(e.message),
            }
        }
        self.share();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(LogError::new(errors.join("; ")))
        }
    }

    /// Stops every pipeline: each stops reading, waits a moment for its outputs to deliver
    /// what it sent, writes its checkpoint and closes its outputs; within a few seconds even
    /// when an output is down (what it did not take is read again at the next start).
    pub fn stop(self) {
        self.shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        stop_all(self.running);
    }

    /// The `driftless_log_*` families of the running pipelines.
    pub fn metrics(&self) -> Vec<Family> {
        let stats: Vec<Arc<PipelineStats>> = self.running.iter().map(|r| r.stats.clone()).collect();
        super::log_metrics::families(&stats)
    }

    /// The same families, made on request for as long as these pipelines run (through a
    /// reload too): for [`crate::metrics::Gatherer::add_source`], so `/metrics` shows them.
    pub fn metrics_source(&self) -> crate::metrics::gatherer::FamilySource {
        let shared = self.shared.clone();
        Arc::new(move || {
            let stats = shared.lock().unwrap_or_else(|p| p.into_inner()).clone();
            super::log_metrics::families(&stats)
        })
    }

    /// Publishes the running pipelines' counters to the metrics source.
    fn share(&self) {
        *self.shared.lock().unwrap_or_else(|p| p.into_inner()) =
            self.running.iter().map(|r| r.stats.clone()).collect();
    }

    /// The ids of the running pipelines, in the order they were started.
    pub fn ids(&self) -> Vec<&str> {
        self.running.iter().map(|r| r.id.as_str()).collect()
    }
}

/// What one pipeline run once did.
#[derive(Debug, Clone)]
pub struct OnceRun {
    pub id: String,
    /// The run's end, or why the pipeline could not start.
    pub result: Result<RunEnd, LogError>,
}

/// Runs each pipeline once over what its files hold now: reads to the end, waits until every
/// output has every record (or `deadline` passes, or `stop` says so), checkpoints, ends. The
/// pipelines run at the same time, each on its own thread; `started` is called once they all
/// run.
pub fn run_once(
    pipelines: &[LogPipeline],
    cx: &LogContext,
    deadline: Option<Duration>,
    stop: &dyn Fn() -> bool,
    started: &dyn Fn(),
) -> Vec<OnceRun> {
    run_once_with(
        pipelines,
        cx,
        deadline,
        (stop, started),
        super::pipeline_parts::build,
    )
}

pub(crate) fn run_once_with(
    pipelines: &[LogPipeline],
    cx: &LogContext,
    deadline: Option<Duration>,
    (stop, on_started): (&dyn Fn() -> bool, &dyn Fn()),
    build: Builder,
) -> Vec<OnceRun> {
    let started = Instant::now();
    let runs: Vec<(String, Result<Started, LogError>)> = pipelines
        .iter()
        .map(|pipeline| {
            let id = pipeline.id.value.clone();
            let started = build(pipeline, cx).and_then(|built| {
                let control = Arc::new(Control::default());
                let (thread_control, stats) = (control.clone(), built.stats);
                std::thread::Builder::new()
                    .name(format!("driftless-log-{}", thread_name(&id)))
                    .spawn(move || {
                        (built.run)(
                            Mode::Once,
                            Drain {
                                grace: None,
                                close: None,
                            },
                            &thread_control,
                            &stats,
                        )
                    })
                    .map(|thread| (control, thread))
                    .map_err(|e| LogError::new(format!("cannot start its thread: {e}")))
            });
            (id, started)
        })
        .collect();
    on_started();
    // Watch for a stop or the deadline while the pipelines work.
    loop {
        let all_done = runs
            .iter()
            .all(|(_, r)| r.as_ref().map_or(true, |(_, t)| t.is_finished()));
        if all_done {
            break;
        }
        if stop() || deadline.is_some_and(|d| started.elapsed() >= d) {
            for (control, _) in runs.iter().filter_map(|(_, r)| r.as_ref().ok()) {
                control.stop();
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    runs.into_iter()
        .map(|(id, started)| {
            let result = started.and_then(|(control, thread)| {
                let stopped = Instant::now();
                // A stopped run ends once its drain is over: bounded like a stop.
                while !thread.is_finished() && stopped.elapsed() < STOP_GIVE_UP {
                    std::thread::sleep(Duration::from_millis(10));
                }
                if !thread.is_finished() {
                    control.freeze();
                }
                thread
                    .join()
                    .map_err(|_| LogError::new("the pipeline's thread panicked"))
            });
            OnceRun { id, result }
        })
        .collect()
}

/// Stops pipelines at once and waits for them, bounded (see [`RunningLogs::stop`]).
fn stop_all(running: Vec<Running>) {
    for r in &running {
        r.control.stop();
    }
    let started = Instant::now();
    let wait_until = |limit: Duration| {
        while running.iter().any(|r| !r.thread.is_finished()) && started.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_until(STOP_GIVE_UP);
    for r in running.iter().filter(|r| !r.thread.is_finished()) {
        tracing::warn!(pipeline = %r.id, "an output does not take what the pipeline sends; giving up on it (what it did not acknowledge is read again at the next start)");
        r.control.freeze();
        for output in &r.stats.outputs {
            output.gate.close();
        }
    }
    wait_until(STOP_GIVE_UP + STOP_LAST);
    for r in running {
        if r.thread.is_finished() {
            if let Ok(end) = r.thread.join() {
                for failure in &end.failures {
                    tracing::warn!(pipeline = %r.id, failure = %failure, "log pipeline");
                }
            }
        } else {
            // Blocked in a send that will not end: left behind; its checkpoint is the last
            // one written, which covers only what every output acknowledged.
            tracing::warn!(pipeline = %r.id, "left a log pipeline's thread behind");
        }
    }
}

/// What decides whether a running pipeline is the one a config asks for: its config, and
/// the digests of the plugins its `plugin` filters call.
fn config_value(pipeline: &LogPipeline, plugins: &Plugins) -> serde_json::Value {
    let plugin_digests: Vec<Option<&str>> = (pipeline.filters.iter())
        .filter_map(|f| match f {
            LogFilter::Plugin(p) => Some(plugins.log_filter_digest(&p.name.value)),
            _ => None,
        })
        .collect();
    serde_json::to_value((pipeline, plugin_digests)).unwrap_or(serde_json::Value::Null)
}

/// Thread names are at most 15 bytes on Linux; the id's first characters are enough.
fn thread_name(id: &str) -> String {
    id.chars().take(8).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};

    use super::*;
    use crate::logs::log_pipeline::{self, PipelineParts};
    use crate::logs::test_fakes::{DropAndSplit, Recorder, output, source};
    use crate::model::Spanned;
    use crate::model::logs::{FileLogSource, LogOutput, LogSource, SinkLogOutput};
    use crate::model::sinks::ConsoleSinkConfig;

    /// What each fake pipeline sends to, by id; its line count is its first path.
    fn recorders() -> &'static Mutex<HashMap<String, Arc<Recorder>>> {
        static RECORDERS: OnceLock<Mutex<HashMap<String, Arc<Recorder>>>> = OnceLock::new();
        RECORDERS.get_or_init(Default::default)
    }

    fn fake_build(pipeline: &LogPipeline, _: &LogContext) -> Result<Built, LogError> {
        let LogSource::File(file) = &pipeline.source;
        let total: u64 = file.paths.value[0]
            .parse()
            .map_err(|_| LogError::new("bad"))?;
        let recorder = Arc::new(Recorder::default());
        recorders()
            .lock()
            .unwrap()
            .insert(pipeline.id.value.clone(), recorder.clone());
        let outputs = vec![output(recorder)];
        let stats = Arc::new(PipelineStats::new(&pipeline.id.value, &outputs));
        let parts = PipelineParts {
            id: pipeline.id.value.clone(),
            source: source(total).0,
            stages: DropAndSplit,
            outputs,
        };
        Ok(Built {
            run: Box::new(move |mode, drain, control, stats| {
                log_pipeline::run(parts, mode, drain, control, stats)
            }),
            stats,
        })
    }

    fn pipeline(id: &str, lines: u64) -> LogPipeline {
        let source = FileLogSource {
            paths: Spanned::unplaced(vec![lines.to_string()]),
            exclude: None,
            start_at: Default::default(),
            encoding: Default::default(),
            max_line_bytes: None,
            partial_timeout: None,
            multiline: None,
        };
        let console = ConsoleSinkConfig {
            stream: Default::default(),
            format: Default::default(),
            batch: None,
            retry: None,
            spool: None,
        };
        LogPipeline {
            id: Spanned::unplaced(id.to_owned()),
            source: LogSource::File(source),
            parser: Default::default(),
            filters: Vec::new(),
            outputs: Spanned::unplaced(vec![LogOutput::Console(SinkLogOutput {
                sink: console,
                encoding: None,
            })]),
        }
    }

    fn context() -> LogContext {
        LogContext {
            state_dir: PathBuf::from("/nonexistent"),
            host: "test".to_owned(),
            secrets: Arc::new(Secrets::new(Vec::new())),
            plugins: Arc::default(),
        }
    }

    fn received(id: &str) -> usize {
        recorders().lock().unwrap()[id].lines.lock().unwrap().len()
    }

    fn wait_until(what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out: {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_reload_keeps_unchanged_pipelines_restarts_changed_ones_and_stops_removed_ones() {
        let mut logs = RunningLogs::start_with(
            &[
                pipeline("rl-keep", 300),
                pipeline("rl-change", 300),
                pipeline("rl-drop", 30),
            ],
            &context(),
            fake_build,
        )
        .unwrap();
        // The records the fake stages make of `n` lines (a third dropped, some split).
        let records = |n: u64| -> usize {
            (0..n)
                .filter(|i| i % 3 != 0)
                .map(|i| if i % 10 == 5 { 2 } else { 1 })
                .sum()
        };
        wait_until("every pipeline delivered", || {
            received("rl-keep") == records(300) && received("rl-change") == records(300)
        });
        let kept = recorders().lock().unwrap()["rl-keep"].clone();
        let metrics = logs.metrics();
        let read = metrics
            .iter()
            .find(|f| f.name == "driftless_log_lines_read_total")
            .unwrap();
        assert_eq!(read.sample(&[("pipeline", "rl-keep")]), Some(300.0));
        let source = (logs.metrics_source())();
        assert_eq!(source.len(), metrics.len());

        logs.reload(
            &[
                pipeline("rl-keep", 300),
                pipeline("rl-change", 600),
                pipeline("rl-new", 30),
            ],
            Arc::default(),
        )
        .unwrap();
        assert_eq!(logs.ids(), ["rl-keep", "rl-change", "rl-new"]);
        // The unchanged pipeline still runs on the same outputs; the changed one was built
        // again (a new recorder) and reads its new config.
        assert!(Arc::ptr_eq(&kept, &recorders().lock().unwrap()["rl-keep"]));
        wait_until("the changed pipeline restarted", || {
            received("rl-change") == records(600)
        });
        let started = Instant::now();
        logs.stop();
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_pipeline_that_cannot_start_is_named_and_nothing_keeps_running() {
        let mut bad = pipeline("rl-bad", 1);
        let LogSource::File(file) = &mut bad.source;
        file.paths.value[0] = "not a number".to_owned();
        let error =
            RunningLogs::start_with(&[pipeline("rl-good", 10), bad], &context(), fake_build)
                .err()
                .unwrap();
        assert_eq!(error.message, "logs.rl-bad: bad");
    }
}
