//! Where plugin code runs: one wasmtime engine for the process, a fresh instance (and store)
//! for every call, and the bounds each call runs under — fuel, a wall-clock deadline through
//! epochs, a memory limit — with no import but `read_file` (no WASI: no file system, network
//! or clock of the host).

use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::{
    Caller, Config, Engine, Extern, InstancePre, Linker, Memory, Module, ResourceLimiter, Store,
    Trap,
};

use super::abi;
use super::error::PluginError;
use super::grant::Grant;

/// Instructions one call may run (wasmtime counts about one unit of fuel per instruction):
/// enough to expand a task or filter a value many times over (the example plugin's calls
/// take a few thousand), little enough that a loop that never ends is stopped in a fraction
/// of a second.
pub const FUEL_PER_CALL: u64 = 50_000_000;

/// How often the engine's epoch advances.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Ticks a call may last: 5 s of wall-clock time, the net under fuel for time spent outside
/// counted instructions (a slow `read_file`, a huge `memory.fill`), generous enough that a
/// busy machine never mistakes fuel for it.
pub const DEADLINE_TICKS: u64 = 500;

/// Linear memory one instance may have: 64 MiB.
pub const MEMORY_LIMIT: usize = 64 << 20;

/// Table elements one instance may have.
const TABLE_LIMIT: usize = 100_000;

/// The process's one engine, and why there is none when the host cannot run wasmtime.
pub fn engine() -> Result<&'static Engine, PluginError> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut config = Config::new();
            config.consume_fuel(true);
            config.epoch_interruption(true);
            let engine = Engine::new(&config).map_err(|e| format!("{e:#}"))?;
            start_epoch_ticker(engine.clone());
            Ok(engine)
        })
        .as_ref()
        .map_err(|why| PluginError::new("(engine)", format!("cannot start wasmtime: {why}")))
}

/// Advances the epoch every [`EPOCH_TICK`] for the life of the process: every store's deadline
/// is counted in these ticks. One thread, asleep between ticks.
fn start_epoch_ticker(engine: Engine) {
    let started = std::thread::Builder::new()
        .name("plugin-epochs".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        });
    if let Err(e) = started {
        // Fuel still bounds every call; only the wall-clock net is missing.
        tracing::warn!("cannot start the plugin deadline thread: {e}");
    }
}

/// What a call's store holds: its grant and its memory accounting.
pub struct CallState {
    grant: Option<Grant>,
    limits: Limits,
}

/// The memory limit, remembering a refused growth so the error can say what was asked.
struct Limits {
    refused_memory: Option<usize>,
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MEMORY_LIMIT {
            self.refused_memory = Some(desired);
            // An error, not `false`: a plugin that ignores a failed `memory.grow` would go
            // on to fail less clearly.
            return Err(wasmtime::format_err!("memory limit"));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= TABLE_LIMIT)
    }
}

/// A compiled plugin ready to be instantiated: its imports resolved once.
pub struct Prepared {
    pre: InstancePre<CallState>,
    plugin: String,
    grant: Option<Grant>,
}

impl Prepared {
    /// Links `module` against the host's one function. A module importing anything else
    /// (WASI included) is refused here, naming the import.
    pub fn new(
        plugin: &str,
        module: &Module,
        grant: Option<Grant>,
    ) -> Result<Prepared, PluginError> {
        for import in module.imports() {
            if (import.module(), import.name()) != (abi::HOST_MODULE, abi::READ_FILE) {
                return Err(PluginError::new(
                    plugin,
                    format!(
                        "imports `{}.{}`; a plugin may import only `{}.{}` (no WASI: no file system, network or clock)",
                        import.module(),
                        import.name(),
                        abi::HOST_MODULE,
                        abi::READ_FILE
                    ),
                ));
            }
        }
        let engine = engine()?;
        let mut linker: Linker<CallState> = Linker::new(engine);
        linker
            .func_wrap(abi::HOST_MODULE, abi::READ_FILE, read_file)
            .map_err(|e| PluginError::new(plugin, format!("cannot link: {e:#}")))?;
        let pre = linker
            .instantiate_pre(module)
            .map_err(|e| PluginError::new(plugin, format!("cannot link: {e:#}")))?;
        Ok(Prepared {
            pre,
            plugin: plugin.to_owned(),
            grant,
        })
    }

    /// Calls `export` in a fresh instance with `input` (JSON) in its memory, or with no
    /// argument when `input` is `None`, and returns the JSON it answers.
    pub fn call(&self, export: &str, input: Option<&[u8]>) -> Result<Vec<u8>, PluginError> {
        let (mut store, instance) = self.instantiate()?;
        let memory = instance
            .get_memory(&mut store, abi::MEMORY)
            .ok_or_else(|| PluginError::new(&self.plugin, "exports no `memory`"))?;
        let packed = match input {
            None => instance
                .get_typed_func::<(), i64>(&mut store, export)
                .map_err(|e| self.missing(export, e))?
                .call(&mut store, ())
                .map_err(|e| self.error(&store, e))?,
            Some(input) => {
                let ptr = write_input(&mut store, &instance, memory, input)
                    .map_err(|e| self.error(&store, e))?;
                instance
                    .get_typed_func::<(i32, i32), i64>(&mut store, export)
                    .map_err(|e| self.missing(export, e))?
                    .call(&mut store, (ptr, input.len() as i32))
                    .map_err(|e| self.error(&store, e))?
            }
        };
        let (ptr, len) = abi::unpack(packed);
        if len > abi::MAX_MESSAGE_BYTES {
            return Err(PluginError::new(
                &self.plugin,
                format!(
                    "`{export}` answered {len} bytes, more than the {} MiB an answer may hold",
                    abi::MAX_MESSAGE_BYTES >> 20
                ),
            ));
        }
        memory
            .data(&store)
            .get(ptr..ptr.saturating_add(len))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| {
                PluginError::new(
                    &self.plugin,
                    format!(
                        "`{export}` answered a range outside its memory ({ptr}+{len} of {} bytes)",
                        memory.data_size(&store)
                    ),
                )
            })
    }

    /// The ABI version the plugin exports.
    pub fn abi_version(&self) -> Result<i32, PluginError> {
        let (mut store, instance) = self.instantiate()?;
        instance
            .get_typed_func::<(), i32>(&mut store, abi::ABI_VERSION)
            .map_err(|e| self.missing(abi::ABI_VERSION, e))?
            .call(&mut store, ())
            .map_err(|e| self.error(&store, e))
    }

    /// A fresh store with this call's bounds, and the plugin instantiated in it.
    fn instantiate(&self) -> Result<(Store<CallState>, wasmtime::Instance), PluginError> {
        let mut store = Store::new(
            engine()?,
            CallState {
                grant: self.grant.clone(),
                limits: Limits {
                    refused_memory: None,
                },
            },
        );
        store.limiter(|state| &mut state.limits);
        store
            .set_fuel(FUEL_PER_CALL)
            .map_err(|e| self.error(&store, e))?;
        store.set_epoch_deadline(DEADLINE_TICKS);
        store.epoch_deadline_trap();
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| self.error(&store, e))?;
        Ok((store, instance))
    }

    fn missing(&self, export: &str, e: wasmtime::Error) -> PluginError {
        PluginError::new(
            &self.plugin,
            format!("does not export `{export}` as the ABI describes it: {e:#}"),
        )
    }

    /// A failed call, said in terms of the bounds it broke.
    fn error(&self, store: &Store<CallState>, e: wasmtime::Error) -> PluginError {
        if let Some(asked) = store.data().limits.refused_memory {
            return PluginError::new(
                &self.plugin,
                format!(
                    "asked for {} MiB of memory, over its limit of {} MiB",
                    asked.div_ceil(1 << 20),
                    MEMORY_LIMIT >> 20
                ),
            );
        }
        let message = match e.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => {
                format!("ran out of fuel ({FUEL_PER_CALL} instructions) and was stopped")
            }
            Some(Trap::Interrupt) => format!(
                "ran past its deadline of {} s and was stopped",
                (EPOCH_TICK * DEADLINE_TICKS as u32).as_secs()
            ),
            Some(trap) => format!("trapped: {trap}"),
            None => format!("{e:#}"),
        };
        PluginError::new(&self.plugin, message)
    }
}

/// Asks the plugin for room (`alloc`) and copies `input` there.
fn write_input(
    store: &mut Store<CallState>,
    instance: &wasmtime::Instance,
    memory: Memory,
    input: &[u8],
) -> wasmtime::Result<i32> {
    if input.len() > abi::MAX_MESSAGE_BYTES {
        wasmtime::bail!(
            "the input is {} bytes, more than the {} MiB a message may hold",
            input.len(),
            abi::MAX_MESSAGE_BYTES >> 20
        );
    }
    let alloc = instance.get_typed_func::<i32, i32>(&mut *store, abi::ALLOC)?;
    let ptr = alloc.call(&mut *store, input.len() as i32)?;
    memory.write(&mut *store, ptr as u32 as usize, input)?;
    Ok(ptr)
}

/// `driftless.read_file(ptr, len) -> i64`: the file at the path the plugin names (UTF-8 in
/// its memory), if it lies under the path the config granted, copied into memory the plugin
/// `alloc`s; [`abi::READ_NOT_FOUND`] or [`abi::READ_TOO_LARGE`] otherwise. A path outside the
/// grant — or any path, with no grant — traps: the call fails naming the path.
fn read_file(mut caller: Caller<'_, CallState>, ptr: i32, len: i32) -> wasmtime::Result<i64> {
    let Some(Extern::Memory(memory)) = caller.get_export(abi::MEMORY) else {
        wasmtime::bail!("`read_file` needs the plugin to export `memory`");
    };
    let start = ptr as u32 as usize;
    let bytes = memory
        .data(&caller)
        .get(start..start.saturating_add(len as u32 as usize))
        .ok_or_else(|| wasmtime::format_err!("`read_file` was given a range outside memory"))?;
    let path = String::from_utf8(bytes.to_vec())
        .map_err(|_| wasmtime::format_err!("`read_file` was given a path that is not UTF-8"))?;
    let Some(grant) = &caller.data().grant else {
        wasmtime::bail!("read `{path}`, but the config grants it no path (`grant_read`)");
    };
    let content = match grant.read(&path) {
        Ok(Some(content)) => content,
        Ok(None) => return Ok(abi::READ_NOT_FOUND),
        Err(why) => wasmtime::bail!("{why}"),
    };
    if content.len() > abi::MAX_MESSAGE_BYTES {
        return Ok(abi::READ_TOO_LARGE);
    }
    let Some(Extern::Func(alloc)) = caller.get_export(abi::ALLOC) else {
        wasmtime::bail!("`read_file` needs the plugin to export `alloc`");
    };
    let alloc = alloc.typed::<i32, i32>(&caller)?;
    let at = alloc.call(&mut caller, content.len() as i32)?;
    memory.write(&mut caller, at as u32 as usize, &content)?;
    Ok(abi::pack(at as u32, content.len() as u32))
}
