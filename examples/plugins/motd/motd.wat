;; The example plugin of docs/plugins.md, in WebAssembly text: no toolchain needed, the
;; `wat` crate assembles it (`driftless plugin check` takes the .wasm; the tests and the
;; benchmark build it from this file).
;;
;; It provides
;; - the task type `motd`: fields `message` and `path`, and the fact `hostname`; it expands to
;;   a `file` at `path` holding "<message> from <hostname>" and a `command` that copies it to
;;   `<path>.seen` once (`creates`), after the file;
;; - the template filter `shout`: a string in upper case;
;; - the log filter `triage`: drops debug events, passes others, and adds an alert event
;;   after an error.
;;
;; The ABI (version 1): driftless writes JSON into memory the plugin `alloc`s and calls an
;; export with its pointer and length; the export answers JSON, its pointer and length packed
;; into one i64. JSON objects driftless sends have their keys sorted and no spaces, so a
;; field is found by its key (`"message":`) and a string value copied as it is written, still
;; escaped — which is what JSON in the answer needs.

(module
  (memory (export "memory") 2)
  ;; The bump allocator's next free byte: above the constants, every call a fresh instance.
  (global $heap (mut i32) (i32.const 65536))
  ;; The answer being written: where, and how long so far.
  (global $out (mut i32) (i32.const 0))
  (global $out_len (mut i32) (i32.const 0))

  ;; DESCRIBE at 1024, 527 bytes
  (data (i32.const 1024) "{\"task_types\":[{\"name\":\"motd\",\"facts\":[\"hostname\"],\"schema\":{\"type\":\"object\",\"properties\":{\"message\":{\"type\":\"string\",\"minLength\":1,\"description\":\"The greeting\"},\"path\":{\"type\":\"string\",\"pattern\":\"^/[A-Za-z0-9_./-]*$\",\"description\":\"Where the message goes\"}},\"required\":[\"message\",\"path\"],\"additionalProperties\":false},\"example\":{\"message\":\"hello\",\"path\":\"/etc/motd\"}}],\"filters\":[{\"name\":\"shout\",\"example\":\"hello\"}],\"log_filters\":[{\"name\":\"triage\",\"example\":{\"message\":\"disk full\",\"file\":\"/var/log/app.log\",\"level\":\"error\"}}]}")
  ;; N_MESSAGE at 1551, 10 bytes
  (data (i32.const 1551) "\"message\":")
  ;; N_PATH at 1561, 7 bytes
  (data (i32.const 1561) "\"path\":")
  ;; N_HOSTNAME at 1568, 11 bytes
  (data (i32.const 1568) "\"hostname\":")
  ;; N_VALUE at 1579, 8 bytes
  (data (i32.const 1579) "\"value\":")
  ;; N_EVENT at 1587, 8 bytes
  (data (i32.const 1587) "\"event\":")
  ;; N_DEBUG at 1595, 15 bytes
  (data (i32.const 1595) "\"level\":\"debug\"")
  ;; N_ERROR at 1610, 15 bytes
  (data (i32.const 1610) "\"level\":\"error\"")
  ;; E_FIELDS at 1625, 62 bytes
  (data (i32.const 1625) "{\"error\":\"motd needs `message`, `path` and the hostname fact\"}")
  ;; E_SHOUT at 1687, 32 bytes
  (data (i32.const 1687) "{\"error\":\"shout takes a string\"}")
  ;; E_EVENT at 1719, 33 bytes
  (data (i32.const 1719) "{\"error\":\"no event in the input\"}")
  ;; O_ID at 1752, 12 bytes
  (data (i32.const 1752) "{\"id\":\"motd:")
  ;; O_FILE at 1764, 46 bytes
  (data (i32.const 1764) "\",\"tasks\":[{\"id\":\"file\",\"type\":\"file\",\"path\":\"")
  ;; O_CONTENT at 1810, 13 bytes
  (data (i32.const 1810) "\",\"content\":\"")
  ;; O_FROM at 1823, 6 bytes
  (data (i32.const 1823) " from ")
  ;; O_COMMAND at 1829, 45 bytes
  (data (i32.const 1829) "\\n\"},{\"id\":\"seen\",\"type\":\"command\",\"cmd\":\"cp ")
  ;; O_SPACE at 1874, 1 bytes
  (data (i32.const 1874) " ")
  ;; O_CREATES at 1875, 18 bytes
  (data (i32.const 1875) ".seen\",\"creates\":\"")
  ;; O_END_TASKS at 1893, 31 bytes
  (data (i32.const 1893) ".seen\",\"depends_on\":[\"file\"]}]}")
  ;; O_VALUE at 1924, 9 bytes
  (data (i32.const 1924) "{\"value\":")
  ;; O_CLOSE at 1933, 1 bytes
  (data (i32.const 1933) "}")
  ;; O_NONE at 1934, 13 bytes
  (data (i32.const 1934) "{\"events\":[]}")
  ;; O_EVENTS at 1947, 11 bytes
  (data (i32.const 1947) "{\"events\":[")
  ;; O_ALERT at 1958, 57 bytes
  (data (i32.const 1958) ",{\"message\":\"alert: an error was logged\",\"file\":\"triage\"}")
  ;; O_END_EVENTS at 2015, 2 bytes
  (data (i32.const 2015) "]}")

  (func (export "driftless_abi_version") (result i32) (i32.const 1))

  ;; Room for $len bytes, 8-aligned; memory grows as needed.
  (func $alloc (export "alloc") (param $len i32) (result i32)
    (local $ptr i32) (local $end i32) (local $have i32)
    (local.set $ptr (global.get $heap))
    (local.set $end (i32.and (i32.add (i32.add (local.get $ptr) (local.get $len)) (i32.const 7)) (i32.const -8)))
    (local.set $have (i32.mul (memory.size) (i32.const 65536)))
    (if (i32.gt_u (local.get $end) (local.get $have))
      (then
        (if (i32.eq
              (memory.grow (i32.add (i32.shr_u (i32.sub (local.get $end) (local.get $have)) (i32.const 16)) (i32.const 1)))
              (i32.const -1))
          (then unreachable))))
    (global.set $heap (local.get $end))
    (local.get $ptr))

  (func $pack (param $ptr i32) (param $len i32) (result i64)
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
      (i64.extend_i32_u (local.get $len))))

  (func $begin (param $capacity i32)
    (global.set $out (call $alloc (local.get $capacity)))
    (global.set $out_len (i32.const 0)))

  (func $emit (param $ptr i32) (param $len i32)
    (memory.copy
      (i32.add (global.get $out) (global.get $out_len))
      (local.get $ptr)
      (local.get $len))
    (global.set $out_len (i32.add (global.get $out_len) (local.get $len))))

  (func $finish (result i64)
    (call $pack (global.get $out) (global.get $out_len)))

  ;; The address of the first $needle in $hay, or -1.
  (func $find (param $hay i32) (param $hay_len i32) (param $needle i32) (param $n i32) (result i32)
    (local $i i32) (local $j i32)
    (block $none
      (loop $outer
        (br_if $none (i32.gt_s (i32.add (local.get $i) (local.get $n)) (local.get $hay_len)))
        (local.set $j (i32.const 0))
        (block $mismatch
          (loop $inner
            (if (i32.eq (local.get $j) (local.get $n))
              (then (return (i32.add (local.get $hay) (local.get $i)))))
            (br_if $mismatch
              (i32.ne
                (i32.load8_u (i32.add (i32.add (local.get $hay) (local.get $i)) (local.get $j)))
                (i32.load8_u (i32.add (local.get $needle) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $inner)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (i32.const -1))

  ;; $p at a string's opening quote: the address after its closing quote.
  (func $string_end (param $p i32) (result i32)
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (loop $scan
      (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 92))
        (then
          (local.set $p (i32.add (local.get $p) (i32.const 2)))
          (br $scan)))
      (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 34))
        (then
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br $scan))))
    (i32.add (local.get $p) (i32.const 1)))

  ;; $p at a string, object or list: the address after it.
  (func $value_end (param $p i32) (result i32)
    (local $depth i32) (local $c i32)
    (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 34))
      (then (return (call $string_end (local.get $p)))))
    (loop $scan
      (local.set $c (i32.load8_u (local.get $p)))
      (if (i32.eq (local.get $c) (i32.const 34))
        (then
          (local.set $p (call $string_end (local.get $p)))
          (br $scan)))
      (if (i32.or (i32.eq (local.get $c) (i32.const 123)) (i32.eq (local.get $c) (i32.const 91)))
        (then (local.set $depth (i32.add (local.get $depth) (i32.const 1)))))
      (if (i32.or (i32.eq (local.get $c) (i32.const 125)) (i32.eq (local.get $c) (i32.const 93)))
        (then
          (local.set $depth (i32.sub (local.get $depth) (i32.const 1)))
          (if (i32.eqz (local.get $depth))
            (then (return (i32.add (local.get $p) (i32.const 1)))))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $scan))
    unreachable)

  (func (export "describe") (result i64)
    (call $pack (i32.const 1024) (i32.const 527)))

  ;; {"facts":{"hostname":H},"fields":{"message":M,"path":P},"type":"motd"}
  (func (export "expand") (param $in i32) (param $len i32) (result i64)
    (local $m i32) (local $m_len i32) (local $p i32) (local $p_len i32) (local $h i32) (local $h_len i32)
    (local.set $m (call $find (local.get $in) (local.get $len) (i32.const 1551) (i32.const 10)))
    (local.set $p (call $find (local.get $in) (local.get $len) (i32.const 1561) (i32.const 7)))
    (local.set $h (call $find (local.get $in) (local.get $len) (i32.const 1568) (i32.const 11)))
    (if (i32.or (i32.or (i32.lt_s (local.get $m) (i32.const 0)) (i32.lt_s (local.get $p) (i32.const 0)))
                (i32.lt_s (local.get $h) (i32.const 0)))
      (then (return (call $pack (i32.const 1625) (i32.const 62)))))
    ;; Each value's text without its quotes, still escaped.
    (local.set $m (i32.add (local.get $m) (i32.const 10)))
    (local.set $m_len (i32.sub (i32.sub (call $string_end (local.get $m)) (local.get $m)) (i32.const 2)))
    (local.set $m (i32.add (local.get $m) (i32.const 1)))
    (local.set $p (i32.add (local.get $p) (i32.const 7)))
    (local.set $p_len (i32.sub (i32.sub (call $string_end (local.get $p)) (local.get $p)) (i32.const 2)))
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (local.set $h (i32.add (local.get $h) (i32.const 11)))
    (local.set $h_len (i32.sub (i32.sub (call $string_end (local.get $h)) (local.get $h)) (i32.const 2)))
    (local.set $h (i32.add (local.get $h) (i32.const 1)))
    (call $begin (i32.add (i32.mul (local.get $len) (i32.const 6)) (i32.const 4096)))
    (call $emit (i32.const 1752) (i32.const 12))
    (call $emit (local.get $p) (local.get $p_len))
    (call $emit (i32.const 1764) (i32.const 46))
    (call $emit (local.get $p) (local.get $p_len))
    (call $emit (i32.const 1810) (i32.const 13))
    (call $emit (local.get $m) (local.get $m_len))
    (call $emit (i32.const 1823) (i32.const 6))
    (call $emit (local.get $h) (local.get $h_len))
    (call $emit (i32.const 1829) (i32.const 45))
    (call $emit (local.get $p) (local.get $p_len))
    (call $emit (i32.const 1874) (i32.const 1))
    (call $emit (local.get $p) (local.get $p_len))
    (call $emit (i32.const 1875) (i32.const 18))
    (call $emit (local.get $p) (local.get $p_len))
    (call $emit (i32.const 1893) (i32.const 31))
    (call $finish))

  ;; {"args":[…],"name":"shout","value":V} → {"value":V in upper case}
  (func (export "filter") (param $in i32) (param $len i32) (result i64)
    (local $v i32) (local $end i32) (local $i i32) (local $c i32)
    (local.set $v (call $find (local.get $in) (local.get $len) (i32.const 1579) (i32.const 8)))
    (if (i32.lt_s (local.get $v) (i32.const 0))
      (then (return (call $pack (i32.const 1687) (i32.const 32)))))
    (local.set $v (i32.add (local.get $v) (i32.const 8)))
    (if (i32.ne (i32.load8_u (local.get $v)) (i32.const 34))
      (then (return (call $pack (i32.const 1687) (i32.const 32)))))
    (local.set $end (call $string_end (local.get $v)))
    (call $begin (i32.add (local.get $len) (i32.const 64)))
    (call $emit (i32.const 1924) (i32.const 9))
    (call $emit (local.get $v) (i32.sub (local.get $end) (local.get $v)))
    ;; Upper-case the copy; an escape (`\n`, `\u00e9`) keeps the letter after its backslash.
    (local.set $i (i32.add (global.get $out) (i32.const 9)))
    (local.set $end (i32.add (global.get $out) (global.get $out_len)))
    (block $done
      (loop $upper
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $i)))
        (if (i32.eq (local.get $c) (i32.const 92))
          (then
            (local.set $i (i32.add (local.get $i) (i32.const 2)))
            (br $upper)))
        (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
          (then (i32.store8 (local.get $i) (i32.sub (local.get $c) (i32.const 32)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $upper)))
    (call $emit (i32.const 1933) (i32.const 1))
    (call $finish))

  ;; {"event":E,"name":"triage"} → {"events":[]} for a debug event, else {"events":[E]},
  ;; and an alert event after an error.
  (func (export "log_filter") (param $in i32) (param $len i32) (result i64)
    (local $e i32) (local $e_len i32)
    (local.set $e (call $find (local.get $in) (local.get $len) (i32.const 1587) (i32.const 8)))
    (if (i32.lt_s (local.get $e) (i32.const 0))
      (then (return (call $pack (i32.const 1719) (i32.const 33)))))
    (local.set $e (i32.add (local.get $e) (i32.const 8)))
    (local.set $e_len (i32.sub (call $value_end (local.get $e)) (local.get $e)))
    (if (i32.ge_s (call $find (local.get $e) (local.get $e_len) (i32.const 1595) (i32.const 15)) (i32.const 0))
      (then (return (call $pack (i32.const 1934) (i32.const 13)))))
    (call $begin (i32.add (local.get $e_len) (i32.const 256)))
    (call $emit (i32.const 1947) (i32.const 11))
    (call $emit (local.get $e) (local.get $e_len))
    (if (i32.ge_s (call $find (local.get $e) (local.get $e_len) (i32.const 1610) (i32.const 15)) (i32.const 0))
      (then (call $emit (i32.const 1958) (i32.const 57))))
    (call $emit (i32.const 2015) (i32.const 2))
    (call $finish))
)
