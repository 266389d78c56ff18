//! Jinja's `wordwrap` and `truncate`, whose arguments Jinja takes by position too:
//! minijinja-contrib's take them only as keywords.

use minijinja::value::{Kwargs, Rest, Value};
use minijinja::{Error, State};

use super::invalid;

/// The positional `args` as the keywords `names` (in Jinja's order), with the given keywords.
fn as_keywords(names: &[&str], args: &[Value], kwargs: &Kwargs) -> Result<Kwargs, Error> {
    if args.len() > names.len() {
        return Err(invalid(format!("at most {} arguments", names.len())));
    }
    let mut forwarded: Vec<(String, Value)> = Vec::new();
    for name in kwargs.args() {
        forwarded.push((name.to_owned(), kwargs.get::<Value>(name)?));
    }
    for (name, value) in names.iter().zip(args) {
        if forwarded.iter().any(|(given, _)| given == name) {
            return Err(invalid(format!("`{name}` given twice")));
        }
        forwarded.push(((*name).to_owned(), value.clone()));
    }
    Ok(Kwargs::from_iter(forwarded))
}

/// `wordwrap(width=79, break_long_words=True, wrapstring='\n', break_on_hyphens=True)`.
pub fn wordwrap(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let names = [
        "width",
        "break_long_words",
        "wrapstring",
        "break_on_hyphens",
    ];
    minijinja_contrib::filters::wordwrap(value, as_keywords(&names, &args, &kwargs)?)
}

/// `truncate(length=255, killwords=False, end='...', leeway=5)`.
pub fn truncate(
    state: &mut State,
    value: &Value,
    args: Rest<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let names = ["length", "killwords", "end", "leeway"];
    minijinja_contrib::filters::truncate(state, value, as_keywords(&names, &args, &kwargs)?)
}
