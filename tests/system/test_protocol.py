"""The actor protocol, read from the code with `ast`: every message is both sent and handled,
every actor's docstring says what it receives, sends and asks, and the protocol table in
docs/architecture.md (its last section) is the one the code gives.

A message is a dataclass of models/commands.py, models/events.py, models/store_commands.py or
models/control.py, or a dataclass of actors/ that an actor matches (`case X(` / isinstance) or
sends (`send`, `tell`, `ask`, `call_at`, `call_later`): its private timers and wiring.
"Sent" means built somewhere outside tests; "handled" means matched in an actor.

Regenerate the table after a protocol change: `python tests/system/test_protocol.py --write`.
"""
from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL_MODULES = ("models/commands.py", "models/events.py", "models/store_commands.py", "models/control.py")
SOURCE_DIRS = ("actors", "adapters", "models", "config")
DOC = ROOT / "docs" / "architecture.md"   # its last section, "## The actor protocol"
SEND_CALLS = frozenset({"send", "tell", "ask", "call_at", "call_later"})
TRANSPORT = frozenset({"Envelope"})      # the handle's wrapper around a message, not a message


def _modules(*dirs: str) -> list[Path]:
    out = [p for d in dirs for p in sorted((ROOT / d).rglob("*.py"))]
    return out + ([ROOT / "run.py"] if (ROOT / "run.py").exists() else [])


@lru_cache(maxsize=None)
def _actor_modules() -> tuple[Path, ...]:
    """actors/, and the adapters' modules that hold an actor (an ArbeesActor subclass, such as the
    market-data stream of adapters/kalshi/stream.py) or part of one (its mixin, beside it)."""
    found = sorted((ROOT / "actors").rglob("*.py"))
    for path in sorted((ROOT / "adapters").rglob("*.py")):
        classes = [c for c in _tree(path).body if isinstance(c, ast.ClassDef)]
        if any("ArbeesActor" in {_name(b) for b in c.bases} for c in classes):
            found.append(path)
            bases = {_name(b) for c in classes for b in c.bases} - {"ArbeesActor"}
            for sibling in sorted(path.parent.glob("*.py")):
                if sibling != path and any(isinstance(c, ast.ClassDef) and c.name in bases for c in _tree(sibling).body):
                    found.append(sibling)
    return tuple(dict.fromkeys(found))


@lru_cache(maxsize=None)
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _is_dataclass(cls: ast.ClassDef) -> bool:
    return any(_name(d.func if isinstance(d, ast.Call) else d) == "dataclass" for d in cls.decorator_list)


def _fields(cls: ast.ClassDef) -> list[str]:
    return [s.target.id for s in cls.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)]


def _matched(node: ast.AST) -> set[str]:
    """Class names matched under `node`: `case X(...)` patterns and isinstance(_, X | (X, Y))."""
    found: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.MatchClass) and _name(n.cls):
            found.add(_name(n.cls))  # type: ignore[arg-type]
        elif isinstance(n, ast.Call) and _name(n.func) == "isinstance" and len(n.args) == 2:
            kinds = n.args[1].elts if isinstance(n.args[1], ast.Tuple) else [n.args[1]]
            found |= {k for k in map(_name, kinds) if k}
    return found


def _audit_event(func: ast.AST) -> bool:
    """`ae.X(...)`: an audit event (models/audit_events/), not a message, though some share a name."""
    return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "ae"


def _built(node: ast.AST) -> set[str]:
    return {_name(n.func) for n in ast.walk(node)
            if isinstance(n, ast.Call) and _name(n.func) and not _audit_event(n.func)}  # type: ignore[misc]


def _sent_as_message(node: ast.AST) -> set[str]:
    found: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Call) and _name(n.func) in SEND_CALLS:
            found |= {_name(a.func) for a in n.args if isinstance(a, ast.Call) and _name(a.func)}  # type: ignore[misc]
    return found


@dataclass(frozen=True)
class Message:
    name: str
    module: str
    kind: str
    fields: tuple[str, ...]


@lru_cache(maxsize=None)
def messages() -> dict[str, Message]:
    """Every message class by name (a name defined twice, like the two `Beat` timers, is listed once
    per module under `name (module)`)."""
    kinds = {"models/commands.py": "command", "models/events.py": "event",
             "models/store_commands.py": "command (Store)", "models/control.py": "command (operator)"}
    found: list[Message] = []
    for rel, kind in kinds.items():
        for cls in _tree(ROOT / rel).body:
            if isinstance(cls, ast.ClassDef) and _is_dataclass(cls):
                found.append(Message(cls.name, rel, kind, tuple(_fields(cls))))
    in_actors = set()
    for path in _actor_modules():
        in_actors |= _matched(_tree(path)) | _sent_as_message(_tree(path))
    for path in _actor_modules():
        for cls in _tree(path).body:
            if isinstance(cls, ast.ClassDef) and _is_dataclass(cls) and cls.name in in_actors \
                    and cls.name not in TRANSPORT:
                found.append(Message(cls.name, _rel(path), "private (actor's own)", tuple(_fields(cls))))
    out: dict[str, Message] = {}
    for m in found:
        key = m.name if sum(1 for o in found if o.name == m.name) == 1 else f"{m.name} ({m.module})"
        out[key] = m
    return out


def _handled_anywhere() -> set[str]:
    return set().union(*(_matched(_tree(p)) for p in _actor_modules()))


def _built_outside_tests() -> set[str]:
    return set().union(*(_built(_tree(p)) for p in _modules(*SOURCE_DIRS)))


# the actors ----------------------------------------------------------------------------------------
@dataclass
class Actor:
    name: str
    module: str
    cls: ast.ClassDef
    receives: list[str] = field(default_factory=list)
    sends: list[str] = field(default_factory=list)
    asks: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)


def _method(cls: ast.ClassDef, name: str) -> ast.FunctionDef | None:
    return next((f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == name), None)


def _asks(cls: ast.ClassDef, names: set[str]) -> list[str]:
    """Whom the class asks and with what timeout: `rt.ask(ref, Msg(...))` (the runtime's
    ask_timeout_s) and proxy reads `....get(timeout=...)`."""
    out: list[str] = []
    for n in ast.walk(cls):
        if isinstance(n, ast.Call) and _name(n.func) == "ask" and len(n.args) == 2 and isinstance(n.args[1], ast.Call):
            target = ast.unparse(n.args[0]).replace("self.refs.", "")
            what = f"{target}: {_name(n.args[1].func)} (ask_timeout_s)"
        elif isinstance(n, ast.Call) and _name(n.func) == "get" and isinstance(n.func, ast.Attribute):
            timeout = next((k.value for k in n.keywords if k.arg == "timeout"), None)
            if timeout is None:
                continue
            attr = n.func.value.attr if isinstance(n.func.value, ast.Attribute) else "an attribute by name"
            what = f"proxy read: {attr} ({ast.unparse(timeout).replace('self.rt.', '')})"
        else:
            continue
        if what not in out:
            out.append(what)
    return out


def _answers(handler: ast.FunctionDef | None, names: set[str]) -> list[str]:
    """Messages whose `case` returns a value: what the actor answers when asked."""
    out: list[str] = []
    for n in ast.walk(handler) if handler is not None else ():
        if isinstance(n, ast.match_case) and isinstance(n.pattern, ast.MatchClass) and _name(n.pattern.cls) in names:
            if any(isinstance(r, ast.Return) and r.value is not None and not (
                    isinstance(r.value, ast.Constant) and r.value.value is None) for b in n.body for r in ast.walk(b)):
                out.append(_name(n.pattern.cls))  # type: ignore[arg-type]
    return sorted(out)


def _mixins() -> list[ast.ClassDef]:
    """Classes of actors/ that hold part of an actor (its helpers in a named sibling module)."""
    return [c for p in _actor_modules() for c in _tree(p).body
            if isinstance(c, ast.ClassDef) and not c.bases and not _is_dataclass(c)]


@lru_cache(maxsize=None)
def actors() -> list[Actor]:
    names = {m.name for m in messages().values()}
    found = []
    for path in _actor_modules():
        for cls in _tree(path).body:
            if not isinstance(cls, ast.ClassDef):
                continue
            if cls.name != "ArbeesActor" and "ArbeesActor" not in {_name(b) for b in cls.bases} \
                    and cls.name != "System":
                continue
            handler = _method(cls, "_dispatch" if cls.name == "ArbeesActor" else "handle")
            receives = sorted(_matched(handler) & names) if handler is not None else []
            mixins = [c for c in _mixins() if c.name in {_name(b) for b in cls.bases}]
            sends = sorted(set().union(_built(cls), *map(_built, mixins)) & names)
            asks = _asks(cls, names) + [a for m in mixins for a in _asks(m, names)]
            found.append(Actor(cls.name, _rel(path), cls, receives, sends, list(dict.fromkeys(asks)),
                               _answers(handler, names)))
    return found


def _docstring_parts(cls: ast.ClassDef) -> dict[str, str]:
    doc = ast.get_docstring(cls) or ""
    parts = {}
    for para in re.split(r"\n\s*\n", doc):
        head = para.split(":", 1)[0].strip()
        if head in ("Receives", "Sends", "Asks"):
            parts[head] = para
    return parts


def _built_outside_actor_classes() -> dict[str, set[str]]:
    """Messages built by module-level code (actors/ functions, adapters/, run.py), by module."""
    names = {m.name for m in messages().values()}
    actor_classes = {a.name for a in actors()}
    out: dict[str, set[str]] = {}
    for path in _modules(*SOURCE_DIRS):
        if _rel(path).startswith(("models/", "config/")):
            continue
        built: set[str] = set()
        for node in _tree(path).body:
            if isinstance(node, ast.ClassDef) and (node.name in actor_classes or node.name in names):
                continue
            built |= _built(node) & names
        if built:
            out[_rel(path)[:-3].replace("/", ".")] = built
    return out


# the table ----------------------------------------------------------------------------------------
def protocol_table() -> str:
    msgs = messages()
    handled_by: dict[str, list[str]] = {}
    sent_by: dict[str, list[str]] = {}
    for a in actors():
        for n in a.receives:
            handled_by.setdefault(n, []).append(a.name)
        for n in a.sends:
            sent_by.setdefault(n, []).append(a.name)
    for path, names in _built_outside_actor_classes().items():
        for n in sorted(names):
            sent_by.setdefault(n, []).append(path)
    lines = ["## The actor protocol", "",
             "Actors talk only in frozen messages. Commands (what an actor is asked to do, imperative names) are "
             "in models/commands.py, the Store's writes and asks in models/store_commands.py, events (what "
             "happened, past tense) in models/events.py, the operator's commands in models/control.py; a timer "
             "an actor sends itself is defined in that actor's module. Every message is built somewhere and "
             "handled by an actor (tests/system/test_protocol.py checks it, and that "
             "these tables are the code's: `python tests/system/test_protocol.py --write` regenerates them). "
             "Each actor's docstring ends with what it receives, sends and asks.", "",
             "\"Built by\" names the actor (or, outside an actor class, the module) that constructs the message; "
             "\"handled by\" the actors that match it. An ask waits at most the runtime's ask_timeout_s (10 s) "
             "unless said otherwise; nothing asks round a cycle.", "",
             "### Messages", "",
             "| message | module | kind | built by | handled by |", "|---|---|---|---|---|"]
    order = {"command": 0, "command (Store)": 1, "command (operator)": 2, "event": 3, "private (actor's own)": 4}
    for key, m in sorted(msgs.items(), key=lambda kv: (order[kv[1].kind], kv[1].module, kv[0])):
        module = m.module[:-3].replace("/", ".")
        mine = {a.name for a in actors() if a.module == m.module} if key != m.name else None   # a name defined twice
        built = [b for b in sent_by.get(m.name, []) if mine is None or b in mine]
        handled = [h for h in handled_by.get(m.name, []) if mine is None or h in mine]
        lines.append(f"| {m.name} | {module} | {m.kind} | {', '.join(built)} | {', '.join(handled)} |")
    lines += ["", "### Actors", "",
              "| actor | module | receives | sends | asks (whom, timeout) | answers when asked |",
              "|---|---|---|---|---|---|"]
    for a in actors():
        lines.append(f"| {a.name} | {a.module} | {', '.join(a.receives)} | {', '.join(a.sends)} | "
                     f"{'; '.join(a.asks) or '-'} | {', '.join(a.answers) or '-'} |")
    return "\n".join(lines) + "\n"


# the tests ----------------------------------------------------------------------------------------
def test_every_message_is_sent_somewhere():
    built = _built_outside_tests()
    never = sorted(k for k, m in messages().items() if m.name not in built)
    assert not never, f"messages never built outside tests (dead: delete them): {never}"


def test_every_message_is_handled_by_an_actor():
    handled = _handled_anywhere()
    never = sorted(k for k, m in messages().items() if m.name not in handled)
    assert not never, f"messages no actor matches (`case X(` or isinstance): {never}"


def test_every_actor_docstring_ends_with_receives_sends_asks():
    problems = []
    for a in actors():
        parts = _docstring_parts(a.cls)
        doc = (ast.get_docstring(a.cls) or "").rstrip()
        tail = [p.split(":", 1)[0].strip() for p in re.split(r"\n\s*\n", doc)][-3:]
        if tail != ["Receives", "Sends", "Asks"]:
            problems.append(f"{a.name}: docstring does not end with Receives / Sends / Asks paragraphs")
            continue
        said = "\n".join(parts.values())       # a message asked is named under Asks, an own timer under Receives
        for what, names, where in (("Receives", a.receives, parts["Receives"]), ("Sends", a.sends, said)):
            missing = [n for n in names if not re.search(rf"\b{n}\b", where)]
            if missing:
                problems.append(f"{a.name}: {what} does not name {missing}")
        if a.asks and parts["Asks"].strip().rstrip(".").endswith(": nothing"):
            problems.append(f"{a.name}: Asks says nothing but it asks {a.asks}")
    assert not problems, "\n".join(problems)


def test_every_message_field_is_read_somewhere():
    """A field no code reads (as `.field`, or a keyword of a `case X(field=...)` pattern) is dead."""
    read: set[str] = set()
    for path in _modules(*SOURCE_DIRS):
        for n in ast.walk(_tree(path)):
            if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Load):
                read.add(n.attr)
            elif isinstance(n, ast.MatchClass):
                read |= set(n.kwd_attrs)
    dead = sorted(f"{k}.{f}" for k, m in messages().items() for f in m.fields if f not in read)
    assert not dead, f"message fields nothing reads: {dead}"


def test_the_documented_protocol_table_is_the_one_the_code_gives():
    assert DOC.exists(), f"{DOC} is missing: python tests/system/test_protocol.py --write"
    text = DOC.read_text()
    assert protocol_table() in text, "docs/architecture.md's protocol table is out of date: python tests/system/test_protocol.py --write"


def write_doc() -> None:
    intro = ""
    if DOC.exists():
        intro = DOC.read_text().split("## The actor protocol", 1)[0]
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(intro + protocol_table())


if __name__ == "__main__":
    if "--write" in sys.argv:
        write_doc()
    else:
        print(protocol_table())
