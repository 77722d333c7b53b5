"""Node.js under its inspector: the instance's node listens for a Chrome DevTools Protocol client
(VS Code's Node debugger, Chrome DevTools, any CDP client) on loopback at the debug port.

`node --inspect=127.0.0.1:PORT` runs at once and takes a client whenever one attaches; with
--debug-wait, `--inspect-brk` holds the runtime client before its first line until a client
attaches and resumes it (`Runtime.runIfWaitingForDebugger`, then resume): the first pause is in
samrun's runtime client, before the function's module loads, so breakpoints set on attach hit in
its init code too. VS Code's attach resumes that pause itself with `"continueOnAttach": true`;
Chrome DevTools shows it, and Resume (F8) goes on.

Node says where it listens ("Debugger listening on ws://127.0.0.1:PORT/UUID") on stderr, which
is the function's output: samrun prints it with the function's log lines. `--enable-source-maps`
makes stack traces and errors name the TypeScript sources of a bundle built with source maps
(samrun/build/esbuild.py builds a debugged function's bundle with them); a debugger reads the
bundle's `sourceMappingURL` itself. `--debug-args` are node's extra arguments, after samrun's (a
later `--inspect...` of the user's wins).
"""

from __future__ import annotations

from dataclasses import replace

from samrun.runtime.debugging import DebugSpec
from samrun.runtime.runtimes import RuntimeCommand


def inspector_flags(spec: DebugSpec) -> tuple[str, ...]:
    """node's arguments for the inspector `spec` asks for."""
    inspect = "--inspect-brk" if spec.wait else "--inspect"
    return (f"{inspect}={spec.address}", "--enable-source-maps", *spec.args)


def node_under_inspector(command: RuntimeCommand, spec: DebugSpec) -> RuntimeCommand:
    """`node BOOTSTRAP` as `node --inspect[-brk]=127.0.0.1:PORT ... BOOTSTRAP`. Its argv is no
    spare's (runtime/node_spare.py serves only `node BOOTSTRAP`): a fresh node starts it."""
    node, *rest = command.argv
    return replace(command, argv=(node, *inspector_flags(spec), *rest))
