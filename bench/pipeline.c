/*
 * bench/pipeline.c - a 4-stage pipeline over buffered channels.
 *
 * The main G sends N values into the first channel; three relay Gs each
 * receive, add one, and pass the value on; a sink G receives and sums. Channels hold 64
 * values. The result is the time per value through all four hand-overs.
 *
 * Run:
 *   make build/bench/pipeline
 *   GORO_PROCS=2 build/bench/pipeline [-n N] [-r R]   (default 2000000, 5)
 * Output ends with: RESULT pipeline_ns_per_value <median>
 */
#include <goro.h>

#define BENCH_USAGE "[-n N] [-r ROUNDS]"
#include "bench.h"

#define STAGES 4
static long nflag = 2000000;
static int rounds = 5;
static double *round_ns;
static int status = 1;

struct stage {
    goro_chan *in, *out;
    goro_wg *wg;
};

static void relay(void *arg)
{
    struct stage *s = arg;
    long v;
    while (goro_chan_recv(s->in, &v) == 0) {
        v++;
        goro_chan_send(s->out, &v);
    }
    goro_chan_close(s->out);
    goro_wg_done(s->wg);
}

struct sink {
    goro_chan *in;
    goro_wg *wg;
    long sum;
};

static void drain(void *arg)
{
    struct sink *k = arg;
    long v;
    while (goro_chan_recv(k->in, &v) == 0)
        k->sum += v;
    goro_wg_done(k->wg);
}

static void main_g(void *arg)
{
    (void)arg;
    for (int r = 0; r < rounds; r++) {
        goro_chan *ch[STAGES];
        for (int i = 0; i < STAGES; i++)
            if ((ch[i] = goro_chan_new(sizeof(long), 64)) == NULL) {
                fprintf(stderr, "pipeline: out of memory\n");
                return;
            }
        goro_wg *wg = goro_wg_new();
        /* What the other Gs are given lives outside this G's stack, which
         * may move (a scan shrinks it while it waits in a send): the
         * contract of goro.h. */
        static struct stage st[STAGES - 1];
        static struct sink sink;
        sink = (struct sink){ch[STAGES - 1], wg, 0};
        goro_wg_add(wg, STAGES);
        int64_t t0 = now_ns();
        for (int i = 0; i < STAGES - 1; i++) {
            st[i] = (struct stage){ch[i], ch[i + 1], wg};
            goro_go(relay, &st[i]);
        }
        goro_go(drain, &sink);
        /* The main G is the source. */
        for (long i = 0; i < nflag; i++)
            goro_chan_send(ch[0], &i);
        goro_chan_close(ch[0]);
        goro_wg_wait(wg);
        long sum = sink.sum;
        round_ns[r] = (double)(now_ns() - t0) / (double)nflag;
        long want = nflag * (nflag - 1) / 2 + nflag * (STAGES - 1);
        if (sum != want) {
            fprintf(stderr, "pipeline: sum %ld, want %ld\n", sum, want);
            return;
        }
        printf("round %d: %.1f ns per value\n", r + 1, round_ns[r]);
        for (int i = 0; i < STAGES; i++)
            goro_chan_free(ch[i]);
        goro_wg_free(wg);
    }
    status = 0;
}

int main(int argc, char **argv)
{
    parse_options(argc, argv, &nflag, INT64_MAX / 4, &rounds);
    round_ns = calloc((size_t)rounds, sizeof *round_ns);
    if (round_ns == NULL)
        return 1;
    int rc = goro_run(main_g, NULL);
    if (rc != 0) {
        fprintf(stderr, "pipeline: goro_run: error %d\n", rc);
        return 1;
    }
    if (status == 0)
        printf("RESULT pipeline_ns_per_value %.1f\n", median(round_ns, rounds));
    return status;
}
