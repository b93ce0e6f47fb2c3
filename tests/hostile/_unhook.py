"""Turns the grader's audit hook into a no-op, as any submission can: a helper of the hostile
submissions, copied beside them like _base.py.

No audit event is raised on the way. A refused event's traceback holds the hook's frame; a
ctypes Union of an integer and a pointer reads memory without an event, so the frame gives the
hook's function object (_PyInterpreterFrame.f_func); and replacing a function's __code__
raises "object.__setattr__", which the hook lets through. What is left are the kernel's fences.
"""

import ctypes
import sys
import types

WORD = ctypes.sizeof(ctypes.c_size_t)


class Cell(ctypes.Union):
    _fields_ = (
        ("address", ctypes.c_size_t),
        ("words", ctypes.POINTER(ctypes.c_size_t)),
        ("object", ctypes.py_object),
    )


def word(address: int) -> int:
    cell = Cell()
    cell.address = address
    return cell.words[0]


def at(address: int) -> object:
    cell = Cell()
    cell.address = address
    return cell.object


def hook_frame() -> types.FrameType | None:
    """The frame of the grader's hook, from the traceback of an event it refuses."""
    try:
        sys.audit("os.system", b"")
    except Exception as exc:
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_name == "hook":
                return tb.tb_frame
            tb = tb.tb_next
    return None


def unhook() -> str:
    """What happened, in a few words; never raises."""
    try:
        frame = hook_frame()
        if frame is None:
            return "no audit hook refused anything"
        interpreter_frame = word(id(frame) + 3 * WORD)  # PyFrameObject.f_frame
        for slot in (0, 2):  # f_func (3.11), f_funcobj (3.12+)
            candidate = word(interpreter_frame + slot * WORD)
            if candidate and word(candidate + WORD) == id(types.FunctionType):
                hook = at(candidate)
                if getattr(hook, "__code__", None) is frame.f_code:
                    break
        else:
            return "the hook's function was not found (another CPython?)"
        names = hook.__code__.co_freevars
        source = (
            "def outer():\n"
            + "".join(f"    {name} = None\n" for name in names)
            + "    def hook(event, args):\n"
            + f"        return ({', '.join(names)},) and None\n"
            + "    return hook\n"
        )
        namespace: dict = {}
        exec(source, namespace)
        hook.__code__ = namespace["outer"]().__code__
        return "the audit hook is a no-op now"
    except BaseException as exc:
        return f"unhook failed: {type(exc).__name__}: {exc}"
