//! The executors (Docker, configuration stores, files, commands): they
//! come with the next milestones; only they will do I/O against the world.
