//! Template filters from plugins: `{{ x | name(args…) }}` passes the value and the arguments
//! to the plugin's `filter` export as JSON and takes back `{"value": …}`.

use std::sync::Arc;

use minijinja::value::Rest;
use minijinja::{Environment, Error, ErrorKind, Value};

use super::abi;
use super::plugin::Plugin;

/// Adds `name`, served by `plugin`, to `env`.
pub fn register(env: &mut Environment<'static>, name: &str, plugin: Arc<Plugin>) {
    let filter = name.to_owned();
    env.add_filter(name.to_owned(), move |value: Value, args: Rest<Value>| {
        call(&plugin, &filter, &value, &args)
    });
}

fn call(plugin: &Plugin, filter: &str, value: &Value, args: &[Value]) -> Result<Value, Error> {
    let failed = |why: String| Error::new(ErrorKind::InvalidOperation, why);
    let input = serde_json::json!({
        "name": filter,
        "value": serde_json::to_value(value).map_err(|e| failed(format!("filter `{filter}`: the value cannot be passed to a plugin: {e}")))?,
        "args": serde_json::to_value(args).map_err(|e| failed(format!("filter `{filter}`: an argument cannot be passed to a plugin: {e}")))?,
    });
    let mut answer = plugin
        .call(abi::FILTER, &input)
        .map_err(|e| failed(format!("filter `{filter}`: {e}")))?;
    let out = plugin
        .field(abi::FILTER, &mut answer, "value")
        .map_err(|e| failed(format!("filter `{filter}`: {e}")))?;
    serde_json::from_value(out).map_err(|e| {
        failed(format!(
            "filter `{filter}`: its value cannot be used in a template: {e}"
        ))
    })
}
