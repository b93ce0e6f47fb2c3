"""Running untrusted code, and nothing else: the grader's side (runner), the preloaded forker
(worker), the fences (guard) and the pipe's messages (protocol)."""
