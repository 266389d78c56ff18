//! What a template sees: the vars at top level, `facts`, `secrets`, and per task its own `vars`
//! and the loop's `item`. Lookups are recorded: which vars were used (for the unused-var
//! warning) and whether a secret was read (which makes the rendered value sensitive).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use minijinja::Value;
use minijinja::value::{Enumerator, Object};
use secrecy::ExposeSecret;

use super::taint::{Taint, expose};
use crate::diagnostics::Span;
use crate::secrets::Secrets;

/// Names a var may not take: the template context gives them another meaning.
pub const RESERVED: &[&str] = &["facts", "secrets", "item"];

pub struct GlobalVar {
    pub value: Value,
    pub span: Span,
    pub used: AtomicBool,
    /// From `-e` on the command line: overrides the config, never reported unused.
    pub extra: bool,
}

impl GlobalVar {
    pub fn new(key: &crate::config::Key, value: &crate::config::Node, extra: bool) -> Self {
        GlobalVar {
            value: super::node_to_value(value),
            span: key.span,
            used: AtomicBool::new(false),
            extra,
        }
    }
}

/// Shared by every task: the merged vars (repo, groups, host, `-e`), the defaults of the role
/// instance the task belongs to, and the facts.
pub struct Globals {
    pub vars: Arc<HashMap<String, Arc<GlobalVar>>>,
    /// The role instance's defaults: the lowest layer, seen by its tasks only.
    pub defaults: HashMap<String, Arc<GlobalVar>>,
    pub facts: Value,
}

impl Globals {
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars
            .keys()
            .chain(self.defaults.keys().filter(|k| !self.vars.contains_key(*k)))
            .map(String::as_str)
    }

    /// The same vars and facts with a role instance's defaults under them.
    pub fn with_defaults(&self, defaults: HashMap<String, Arc<GlobalVar>>) -> Globals {
        Globals {
            vars: self.vars.clone(),
            defaults,
            facts: self.facts.clone(),
        }
    }
}

/// The secrets as a template sees them: reading one marks the render sensitive; a name that
/// cannot be read is remembered so the error can say why.
pub struct SecretsView {
    secrets: Arc<Secrets>,
    touched: AtomicBool,
    pub failures: Mutex<Vec<(String, String)>>,
}

impl fmt::Debug for SecretsView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("secrets")
    }
}

impl SecretsView {
    pub fn new(secrets: Arc<Secrets>) -> Arc<Self> {
        Arc::new(SecretsView {
            secrets,
            touched: AtomicBool::new(false),
            failures: Mutex::new(Vec::new()),
        })
    }

    /// Whether a secret was read since the last call.
    pub fn take_touched(&self) -> bool {
        self.touched.swap(false, Ordering::Relaxed)
    }

    /// Whether a secret was read since the last `take_touched`, leaving the flag as it is.
    pub fn touched(&self) -> bool {
        self.touched.load(Ordering::Relaxed)
    }

    /// Records that the render read a value that came from a secret.
    pub fn mark_touched(&self) {
        self.touched.store(true, Ordering::Relaxed);
    }

    pub fn failure(&self, name: &str) -> Option<String> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, why)| why.clone())
    }
}

impl Object for SecretsView {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        let failure = match self.secrets.get(name) {
            Ok(Some(value)) => {
                self.mark_touched();
                return Some(Value::from(value.expose_secret()));
            }
            Ok(None) => format!("it is not set in {}", tilde(&self.secrets.describe())),
            Err(why) => why,
        };
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.push((name.to_owned(), failure));
        None
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        // Listing names would read every secret source; templates only look names up.
        Enumerator::NonEnumerable
    }
}

/// The root of one task's template context.
pub struct TaskScope {
    pub globals: Arc<Globals>,
    pub locals: BTreeMap<String, Value>,
    /// The loop's item, with the parts of it that came from a secret.
    pub item: Option<(Value, Taint)>,
    pub secrets: Arc<SecretsView>,
    /// What `set_fact`s and `stat`s rendered before this task set.
    pub plan_time: Arc<super::task::PlanTime>,
}

impl fmt::Debug for TaskScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("context")
    }
}

impl Object for TaskScope {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        match key {
            "facts" => Some(self.globals.facts.clone()),
            "secrets" => Some(Value::from_dyn_object(self.secrets.clone())),
            "item" => {
                let (value, taint) = self.item.as_ref()?;
                Some(expose(value.clone(), taint, &self.secrets))
            }
            _ => {
                // Precedence: `-e` vars, then the task's vars (and its role instance's
                // parameters), then what a `set_fact` or `stat` before the task set (a name
                // the host's vars also give is refused where it is set), then the host's
                // (repo, group, host vars), then the role's defaults.
                let global = self.globals.vars.get(key);
                if let Some(var) = global.filter(|v| v.extra) {
                    return Some(var.value.clone());
                }
                if let Some(local) = self.locals.get(key) {
                    return Some(local.clone());
                }
                if let Some((value, taint)) = self.plan_time.get(key) {
                    return Some(expose(value, &taint, &self.secrets));
                }
                let var = global.or_else(|| self.globals.defaults.get(key))?;
                var.used.store(true, Ordering::Relaxed);
                Some(var.value.clone())
            }
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::NonEnumerable
    }
}

/// Paths under the home directory as `~/…`, the way the docs and the defaults name them: the
/// message is shorter and the same on every machine.
fn tilde(text: &str) -> String {
    match std::env::var("HOME") {
        Ok(home) if home.len() > 1 => {
            text.replace(&format!("{}/", home.trim_end_matches('/')), "~/")
        }
        _ => text.to_owned(),
    }
}
