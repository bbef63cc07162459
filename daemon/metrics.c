// SPDX-License-Identifier: GPL-2.0
/*
 * metrics: the Prometheus text format (metrics.h). Names follow
 * Prometheus' conventions (promtool check metrics): counters end in
 * _total, units in the name, base units (seconds, bytes); profd's own
 * usage under the standard process_* names.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "metrics.h"

struct mbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void mb_printf(struct mbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void mb_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t cap = b->cap * 2 + (size_t)n;
			char *p = realloc(b->p, cap);

			if (!p) {
				b->oom = true;
				return;
			}
			b->p = p;
			b->cap = cap;
		}
	}
}

static void head(struct mbuf *b, const char *name, const char *type,
		 const char *help)
{
	mb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct mbuf *b, const char *name, const char *type,
		const char *help, uint64_t v)
{
	head(b, name, type, help);
	mb_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

int metrics__write(const struct metrics_input *in, char **ret_buf,
		   size_t *ret_len)
{
	static const char *const drop_names[SPOOL_DROP_MAX] = {
		[SPOOL_DROP_BYTES] = "spool_max_bytes",
		[SPOOL_DROP_FILES] = "spool_max_files",
		[SPOOL_DROP_AGE] = "spool_max_age",
		[SPOOL_DROP_CORRUPT] = "corrupt",
		[SPOOL_DROP_REJECTED] = "rejected",
		[SPOOL_DROP_NO_SPACE] = "no_space",
	};
	const struct fleet_stats *f = &in->fleet;
	struct mbuf b = { .cap = 4096 };
	double age = 0;
	uint32_t i;

	b.p = malloc(b.cap);
	if (!b.p)
		return -ENOMEM;
	b.p[0] = 0;
	one(&b, "profd_samples_total", "counter",
	    "CPU samples taken by the sampler.", in->samples_total);
	head(&b, "profd_samples_lost_total", "counter",
	     "CPU samples lost, by reason: ring_buffer (the BPF ring buffer was full), stack_table (a window's distinct-stack table was full).");
	mb_printf(&b, "profd_samples_lost_total{reason=\"ring_buffer\"} %llu\n",
		  (unsigned long long)in->samples_lost);
	mb_printf(&b, "profd_samples_lost_total{reason=\"stack_table\"} %llu\n",
		  (unsigned long long)in->samples_dropped);
	one(&b, "profd_sessions_active", "gauge",
	    "CPU windows open now.", in->sessions_active);
	one(&b, "profd_spool_enabled", "gauge",
	    "1 when closed intervals are spooled on disk.", f->spool_on);
	one(&b, "profd_push_enabled", "gauge",
	    "1 when intervals are pushed to a collector (push-url).", f->push_on);
	one(&b, "profd_intervals_closed_total", "counter",
	    "Intervals closed (one per service per continuous-interval).",
	    f->intervals_closed);
	one(&b, "profd_intervals_spooled_total", "counter",
	    "Intervals written to the spool.", f->spool.written);
	one(&b, "profd_intervals_pushed_total", "counter",
	    "Intervals a collector accepted (2xx) and removed from the spool.",
	    f->push.pushed);
	head(&b, "profd_intervals_dropped_total", "counter",
	     "Intervals dropped undelivered, by reason.");
	mb_printf(&b, "profd_intervals_dropped_total{reason=\"spool_write_error\"} %llu\n",
		  (unsigned long long)f->spool.write_errors);
	for (i = 0; i < SPOOL_DROP_MAX; i++)
		mb_printf(&b, "profd_intervals_dropped_total{reason=\"%s\"} %llu\n",
			  drop_names[i], (unsigned long long)f->spool.dropped[i]);
	one(&b, "profd_push_attempts_total", "counter",
	    "Push requests sent (retries included).", f->push.attempts);
	one(&b, "profd_push_retries_total", "counter",
	    "Push requests that failed in a way worth retrying (408, 429, 5xx, connection).",
	    f->push.retries);
	head(&b, "profd_push_errors_total", "counter",
	     "Push requests that failed, by HTTP status (code=\"connection\": no answer).");
	for (i = 0; i < f->push.nerrors; i++) {
		if (f->push.errors[i].code)
			mb_printf(&b, "profd_push_errors_total{code=\"%d\"} %llu\n",
				  f->push.errors[i].code,
				  (unsigned long long)f->push.errors[i].n);
		else
			mb_printf(&b, "profd_push_errors_total{code=\"connection\"} %llu\n",
				  (unsigned long long)f->push.errors[i].n);
	}
	if (f->push.errors_other)
		mb_printf(&b, "profd_push_errors_total{code=\"other\"} %llu\n",
			  (unsigned long long)f->push.errors_other);
	one(&b, "profd_push_sent_bytes_total", "counter",
	    "Profile bytes (gzip pprof) delivered.", f->push.pushed_bytes);
	one(&b, "profd_push_failing", "gauge",
	    "1 while pushes fail (a failure streak), else 0.", f->push.failing);
	head(&b, "profd_push_backoff_seconds", "gauge",
	     "The current wait before the next push attempt.");
	mb_printf(&b, "profd_push_backoff_seconds %.3f\n", (double)f->push.backoff_ms / 1e3);
	one(&b, "profd_spool_bytes", "gauge", "Bytes in the spool.", f->spool.bytes);
	one(&b, "profd_spool_files", "gauge", "Intervals in the spool.", f->spool.files);
	if (f->spool.oldest_end_ns && in->now_ns > f->spool.oldest_end_ns)
		age = (double)(in->now_ns - f->spool.oldest_end_ns) / 1e9;
	head(&b, "profd_spool_oldest_age_seconds", "gauge",
	     "Age of the oldest spooled interval (0 when empty).");
	mb_printf(&b, "profd_spool_oldest_age_seconds %.3f\n", age);
	head(&b, "profd_listen_reloads_total", "counter",
	     "SIGHUPs that re-read the remote listener's token and TLS files (ok), or kept the current ones (refused: a bad file or configuration; the log says which).");
	mb_printf(&b, "profd_listen_reloads_total{result=\"ok\"} %llu\n",
		  (unsigned long long)f->listen_reloads_ok);
	mb_printf(&b, "profd_listen_reloads_total{result=\"refused\"} %llu\n",
		  (unsigned long long)f->listen_reloads_refused);
	if (in->has_cont) {
		const struct continuous_stats *c = &in->cont;

		one(&b, "profd_continuous_enabled", "gauge",
		    "1 when every process is sampled all the time (continuous = yes).",
		    c->on);
		one(&b, "profd_continuous_hz", "gauge",
		    "Continuous sampling frequency (0: off).", c->hz);
		one(&b, "profd_continuous_samples_total", "counter",
		    "Samples counted in continuous intervals and machine-wide profiles.",
		    c->samples);
		head(&b, "profd_continuous_samples_lost_total", "counter",
		     "Every-process samples lost, by reason: queue_full (profd's queue to its worker), process_table_full, late (came after their interval closed), process_gone (exited before profd saw it), stack_table (distinct-stack table full), ring_buffer (BPF ring buffer full while collections were open; machine-wide).");
		mb_printf(&b, "profd_continuous_samples_lost_total{reason=\"queue_full\"} %llu\n",
			  (unsigned long long)c->lost_queue_full);
		mb_printf(&b, "profd_continuous_samples_lost_total{reason=\"process_table_full\"} %llu\n",
			  (unsigned long long)c->lost_procs_full);
		mb_printf(&b, "profd_continuous_samples_lost_total{reason=\"late\"} %llu\n",
			  (unsigned long long)c->lost_late);
		mb_printf(&b, "profd_continuous_samples_lost_total{reason=\"process_gone\"} %llu\n",
			  (unsigned long long)c->lost_unresolved);
		mb_printf(&b, "profd_continuous_samples_lost_total{reason=\"stack_table\"} %llu\n",
			  (unsigned long long)c->dropped_stacks);
		mb_printf(&b, "profd_continuous_samples_lost_total{reason=\"ring_buffer\"} %llu\n",
			  (unsigned long long)c->lost_ringbuf);
		one(&b, "profd_continuous_samples_excluded_total", "counter",
		    "Samples of processes continuous-include/-exclude leave out.",
		    c->excluded);
		one(&b, "profd_continuous_processes_tracked", "gauge",
		    "Processes whose mappings profd holds for continuous profiles now.",
		    c->procs_tracked);
		one(&b, "profd_continuous_processes_seen_total", "counter",
		    "Processes first seen by continuous sampling.", c->procs_seen);
		one(&b, "profd_continuous_processes_dropped_total", "counter",
		    "Processes not tracked: the process table was full.",
		    c->procs_dropped);
		one(&b, "profd_continuous_processes_excluded_total", "counter",
		    "Processes the filters left out.", c->procs_excluded);
		one(&b, "profd_continuous_processes_moved_total", "counter",
		    "Processes seen in another cgroup than when first seen (tracked afresh: service and filters).",
		    c->procs_moved);
		one(&b, "profd_continuous_intervals_closed_total", "counter",
		    "Continuous intervals closed (each gives one profile per service).",
		    c->intervals_closed);
		one(&b, "profd_continuous_profiles_total", "counter",
		    "Per-service interval profiles handed to the spool.",
		    c->profiles_closed);
		one(&b, "profd_continuous_profiles_failed_total", "counter",
		    "Per-service interval profiles that could not be built or spooled.",
		    c->profiles_failed);
		head(&b, "profd_continuous_reloads_total", "counter",
		     "Reloads (SIGHUP) that changed continuous settings: applied live (hz, interval, include/exclude) or refused (continuous yes/no: at the next restart).");
		mb_printf(&b, "profd_continuous_reloads_total{result=\"applied\"} %llu\n",
			  (unsigned long long)c->reloads_applied);
		mb_printf(&b, "profd_continuous_reloads_total{result=\"refused\"} %llu\n",
			  (unsigned long long)c->reloads_refused);
		one(&b, "profd_machine_profiles_total", "counter",
		    "Machine-wide profiles asked for (GET /debug/pprof/profile without pid).",
		    c->pulls);
	}
	one(&b, "profd_debuginfod_enabled", "gauge",
	    "1 when missing debug info is fetched from debuginfod servers.",
	    in->debuginfod_on);
	head(&b, "profd_debuginfod_fetches_total", "counter",
	     "debuginfod fetches ended, by result (fetched, not_found, failed, timeout, rejected: not an ELF file of that build-id).");
	mb_printf(&b, "profd_debuginfod_fetches_total{result=\"fetched\"} %llu\n",
		  (unsigned long long)in->dbgd.fetched);
	mb_printf(&b, "profd_debuginfod_fetches_total{result=\"not_found\"} %llu\n",
		  (unsigned long long)in->dbgd.not_found);
	mb_printf(&b, "profd_debuginfod_fetches_total{result=\"failed\"} %llu\n",
		  (unsigned long long)in->dbgd.failed);
	mb_printf(&b, "profd_debuginfod_fetches_total{result=\"timeout\"} %llu\n",
		  (unsigned long long)in->dbgd.timeouts);
	mb_printf(&b, "profd_debuginfod_fetches_total{result=\"rejected\"} %llu\n",
		  (unsigned long long)in->dbgd.rejected);
	one(&b, "profd_debuginfod_fetched_bytes_total", "counter",
	    "Bytes of debug info fetched.", in->dbgd.fetched_bytes);
	one(&b, "profd_debuginfod_queue_full_total", "counter",
	    "Fetches not queued: the queue was full.", in->dbgd.queue_full);
	head(&b, "profd_debuginfod_cache_hits_total", "counter",
	     "Lookups answered from the cache, by kind (ready: the file; negative: known missing or failed).");
	mb_printf(&b, "profd_debuginfod_cache_hits_total{kind=\"ready\"} %llu\n",
		  (unsigned long long)in->dbgd.cache_hits);
	mb_printf(&b, "profd_debuginfod_cache_hits_total{kind=\"negative\"} %llu\n",
		  (unsigned long long)in->dbgd.negative_hits);
	one(&b, "profd_debuginfod_in_flight", "gauge",
	    "Fetches running now.", in->dbgd.in_flight);
	one(&b, "profd_debuginfod_queued", "gauge",
	    "Fetches waiting for a worker.", in->dbgd.queued);
	one(&b, "profd_debuginfod_cache_bytes", "gauge",
	    "Bytes in the on-disk debuginfod cache.", in->dbgd.cache_bytes);
	one(&b, "profd_debuginfod_cache_max_bytes", "gauge",
	    "Its bound (--debuginfod-cache-mb).", in->dbgd.cache_max_bytes);
	one(&b, "profd_debuginfod_cache_evictions_total", "counter",
	    "Files evicted from the cache to stay within its bound.",
	    in->dbgd.cache_evictions);
	one(&b, "profd_jit_table_bytes", "gauge",
	    "Bytes of JIT names (perf maps, jitdump) held for all processes.",
	    in->jit.bytes);
	one(&b, "profd_jit_table_max_bytes", "gauge",
	    "Their bound across processes (PROFD_JIT_MAX_MB).",
	    in->jit.max_bytes);
	head(&b, "profd_jit_dropped_total", "counter",
	     "JIT names not kept, by the bound that was full (total_bound: all processes' tables; process_bound: one process's).");
	mb_printf(&b, "profd_jit_dropped_total{reason=\"total_bound\"} %llu\n",
		  (unsigned long long)in->jit.dropped_total);
	mb_printf(&b, "profd_jit_dropped_total{reason=\"process_bound\"} %llu\n",
		  (unsigned long long)in->jit.dropped_process);
	head(&b, "process_cpu_seconds_total", "counter",
	     "User and system CPU time profd spent.");
	mb_printf(&b, "process_cpu_seconds_total %.3f\n", in->cpu_seconds);
	one(&b, "process_resident_memory_bytes", "gauge",
	    "profd's resident memory.", in->rss_bytes);
	head(&b, "process_start_time_seconds", "gauge",
	     "When profd started, seconds since the epoch.");
	mb_printf(&b, "process_start_time_seconds %.3f\n", in->start_time_seconds);
	head(&b, "profd_build_info", "gauge", "profd's version.");
	mb_printf(&b, "profd_build_info{version=\"%s\"} 1\n", PROFD_VERSION);
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	*ret_buf = b.p;
	*ret_len = b.len;
	return 0;
}

int metrics__self(struct metrics_input *in)
{
	struct rusage ru;
	unsigned long long pages = 0, rss = 0;
	FILE *f;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -errno;
	in->cpu_seconds = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
			  (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	f = fopen("/proc/self/statm", "re");
	if (!f)
		return -errno;
	if (fscanf(f, "%llu %llu", &pages, &rss) == 2)
		in->rss_bytes = rss * (uint64_t)sysconf(_SC_PAGESIZE);
	fclose(f);
	return 0;
}
