//! The field rules of `cron` at check time: time fields cron accepts (ranges, lists, steps,
//! month and day names), a name and a job of one line, a schedule or `special_time` but not
//! both, a `cron_file` name cron reads.

use super::cron::{CronField, CronTask};
use crate::diagnostics::Diagnostic;
use crate::model::Spanned;
use crate::model::apply::State;

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// One time field: its name, its range and the names it takes.
struct Field {
    name: &'static str,
    low: u32,
    high: u32,
    names: &'static [&'static str],
    /// The number of the first name.
    first_name: u32,
}

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        low: 0,
        high: 59,
        names: &[],
        first_name: 0,
    },
    Field {
        name: "hour",
        low: 0,
        high: 23,
        names: &[],
        first_name: 0,
    },
    Field {
        name: "day",
        low: 1,
        high: 31,
        names: &[],
        first_name: 0,
    },
    Field {
        name: "month",
        low: 1,
        high: 12,
        names: &MONTHS,
        first_name: 1,
    },
    Field {
        name: "weekday",
        low: 0,
        high: 7,
        names: &WEEKDAYS,
        first_name: 0,
    },
];

pub fn check(task: &CronTask, found: &mut Vec<Diagnostic>) {
    let fields = [
        &task.minute,
        &task.hour,
        &task.day,
        &task.month,
        &task.weekday,
    ];
    for (field, value) in FIELDS.iter().zip(fields) {
        if let Some(value) = value
            && let Err(why) = time_field(field, &value.value)
        {
            found.push(
                Diagnostic::error(format!("cron `{}` {why}", field.name))
                    .at(value.span)
                    .help(format!(
                        "`*`, a number from {} to {}{}, a range `a-b`, a list `a,b` or a step \
                         `*/n`",
                        field.low,
                        field.high,
                        if field.names.is_empty() {
                            String::new()
                        } else {
                            format!(" or a name (`{}`…)", field.names[0])
                        }
                    )),
            );
        }
    }
    let scheduled = fields.iter().find_map(|f| f.as_ref());
    if let (Some(special), Some(_)) = (&task.special_time, scheduled) {
        found.push(
            Diagnostic::error(
                "`special_time` and the time fields (`minute` … `weekday`) exclude each other",
            )
            .at(special.span)
            .help("keep `special_time`, or the time fields"),
        );
    }
    if task.env
        && let Some(at) = scheduled
            .map(|f| f.span)
            .or(task.special_time.as_ref().map(|s| s.span))
    {
        found.push(
            Diagnostic::error("an `env: true` entry is a variable and has no schedule")
                .at(at)
                .help("remove the time fields, or `env`"),
        );
    }
    one_line(&task.name, "name", found);
    if task.env && !is_variable_name(&task.name.value) {
        found.push(
            Diagnostic::error("with `env: true`, `name` is the variable's name")
                .at(task.name.span)
                .help("letters, digits and `_`, not starting with a digit: `MAILTO`"),
        );
    }
    match &task.job {
        Some(job) => one_line(job, "job", found),
        None if task.state == State::Present => found.push(
            Diagnostic::error("`job` is required with `state: present`")
                .at(task.name.span)
                .help("add `job: …` (with `env: true`, the variable's value)"),
        ),
        None => {}
    }
    if let Some(user) = &task.user
        && !is_user_name(&user.value)
    {
        found.push(
            Diagnostic::error("`user` is not a user name")
                .at(user.span)
                .help("letters, digits, `_`, `.` and `-`: `deploy`"),
        );
    }
    if let Some(file) = &task.cron_file
        && !file.value.starts_with('/')
        && !is_cron_d_name(&file.value)
    {
        found.push(
            Diagnostic::error(
                "cron reads only files of /etc/cron.d named with letters, digits, `_` and `-`",
            )
            .at(file.span)
            .help("`cron_file: backup` (no dots: `backup.cron` would be ignored by cron)"),
        );
    }
}

/// Whether `text` is a time field cron reads for `field`; why not.
fn time_field(field: &Field, text: &CronField) -> Result<(), String> {
    let text = text.0.as_str();
    if text.is_empty() {
        return Err("is empty".to_owned());
    }
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step {
            let n: u32 = step
                .parse()
                .map_err(|_| format!("has a step `{step}` that is not a number"))?;
            if n == 0 || n > field.high {
                return Err(format!("has a step {n} out of 1-{}", field.high));
            }
        }
        if range == "*" {
            continue;
        }
        match range.split_once('-') {
            Some((low, high)) => {
                let (low, high) = (value(field, low)?, value(field, high)?);
                if low > high {
                    return Err(format!("has a range {low}-{high} that runs backwards"));
                }
            }
            None if step.is_some() => {
                return Err(format!(
                    "has a step after `{range}`: steps go after `*` or a range"
                ));
            }
            None => {
                value(field, range)?;
            }
        }
    }
    Ok(())
}

/// A number in the field's range, or one of its names.
fn value(field: &Field, text: &str) -> Result<u32, String> {
    if let Ok(n) = text.parse::<u32>() {
        if n < field.low || n > field.high {
            return Err(format!("has {n}, out of {}-{}", field.low, field.high));
        }
        return Ok(n);
    }
    let lower = text.to_ascii_lowercase();
    match field.names.iter().position(|name| *name == lower) {
        Some(i) => Ok(field.first_name + i as u32),
        None => Err(format!(
            "has `{}`, not a number or a name",
            text.escape_default()
        )),
    }
}

fn one_line(value: &Spanned<String>, field: &str, found: &mut Vec<Diagnostic>) {
    if value.value.trim().is_empty() || value.value.contains(['\n', '\r']) {
        found.push(
            Diagnostic::error(format!("cron `{field}` must be one line, not empty"))
                .at(value.span)
                .help("a crontab entry is one line"),
        );
    }
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_user_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '$'))
}

/// A name `run-parts` (and so cron) reads in /etc/cron.d.
fn is_cron_d_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(field: usize, text: &str) -> Result<(), String> {
        time_field(&FIELDS[field], &CronField(text.to_owned()))
    }

    #[test]
    fn time_fields_follow_cron() {
        for good in ["*", "*/5", "0", "59", "1-5", "1,2,30-40/2", "0-59/15"] {
            assert_eq!(check(0, good), Ok(()), "{good}");
        }
        assert_eq!(check(3, "jan-mar"), Ok(()));
        assert_eq!(check(4, "mon-fri"), Ok(()));
        assert_eq!(check(4, "7"), Ok(()));
        assert_eq!(check(0, "60"), Err("has 60, out of 0-59".to_owned()));
        assert_eq!(check(1, "*/0"), Err("has a step 0 out of 1-23".to_owned()));
        assert_eq!(
            check(2, "5-1"),
            Err("has a range 5-1 that runs backwards".to_owned())
        );
        assert_eq!(
            check(4, "funday"),
            Err("has `funday`, not a number or a name".to_owned())
        );
        assert!(check(0, "5/10").is_err());
        assert!(check(0, "").is_err());
        assert!(check(0, "1,,2").is_err());
    }
}
