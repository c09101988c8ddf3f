/* glue_bridge.c -- the audio bridge: a pjmedia conference bridge and the clock that drives it,
 * the sound devices, and the file ports of WaveFile / RecordingWaveFile.
 *
 * The bridge (sc_bridge) is one pjmedia_conf created with PJMEDIA_CONF_NO_DEVICE, 20 ms frames,
 * mono, at the Engine's sample_rate.  Its slot 0 (the conference's "master" port) is driven by
 * one of two clocks:
 *   - a sound device: a pjmedia_snd_port connected to the master port (the device's own thread
 *     is the clock; echo canceller on the snd port);
 *   - none: a pjmedia_master_port between a null port (silence in, output dropped) and the
 *     master port; the master port's pjmedia_clock thread ticks every 20 ms.
 * Either way a C thread runs the mix; Python never runs per frame.
 *
 * Two more ports live on slots of their own:
 *   - "silence": a null port.  pjmedia_conf gives a port that no source transmits to only
 *     NONE ("heart-beat") frames (write_port: transmitter_cnt == 0), and a pjmedia_stream sends
 *     no audio for those.  Python connects this slot to every sink it attaches, so a stream (or
 *     a recorder) always receives an audio frame per tick: silence when nothing else plays.
 *   - "tones": a pjmedia_tonegen connected to slot 0, for playback_dtmf.
 *
 * A player (sc_fileport of a WaveFile) is a port of ours wrapping a pjmedia wav player opened
 * with PJMEDIA_FILE_NO_LOOP.  On the clock thread its get_frame notices the end of the file
 * (the player returns PJ_EEOF or a NONE frame), then gives NONE frames and queues one
 * SC_MEDIA_WAVE_EOF event for the poll thread (sc_media_event: no Python on the clock thread).
 * The poll thread decides about looping and asks for a rewind (sc_fileport_rewind), which the
 * clock thread carries out at its next frame: the wav player is only ever read on the clock
 * thread, under the port's lock.  A recorder is a pjmedia wav writer port.
 *
 * Everything here except the wrapper's get_frame runs on the poll thread.  A port is removed
 * from the bridge (pjmedia_conf_remove_port, which in pjproject 2.12 takes the bridge's mutex,
 * the one the clock thread holds during a tick) before it is destroyed.
 */
#include "glue.h"

#include <stdio.h>
#include <string.h>
#include <pjmedia_audiodev.h>

#define SC_BRIDGE_MAX_SLOTS 1024
#define SC_PTIME_MS 20

struct sc_bridge {
    pj_pool_t *pool;                    /* first: see pool_object */
    pjmedia_conf *conf;
    unsigned clock_rate;
    unsigned spf;
    pjmedia_port *null_clock_port;      /* upstream of the master port (null clock) */
    pjmedia_master_port *master;        /* the null clock, when no device */
    pjmedia_snd_port *snd;              /* the sound device, when one */
    pjmedia_port *silence;
    unsigned silence_slot;
    pjmedia_port *tones;
    unsigned tones_slot;
    unsigned tones_queued;              /* digits given to the tone generator since it was idle */
    int aud_inited;
    /* a pool per added slot, for pjmedia_conf's per-port data: released with the slot, so
     * ten thousand calls one after the other leave nothing behind */
    pj_pool_factory *pf;
    pj_pool_t *slot_pools[SC_BRIDGE_MAX_SLOTS];
};

struct sc_fileport {
    pj_pool_t *pool;            /* first: see pool_object */
    pjmedia_port base;          /* players: the port the bridge reads (wraps inner) */
    pjmedia_port *inner;        /* the wav player or writer */
    pj_mutex_t *lock;
    uintptr_t token;
    int is_player;
    int ended;                  /* clock thread: the end of the file was reached */
    int rewind;                 /* poll thread asks: start again from the beginning */
};

/* A zeroed object of size bytes at the start of a new pool of its own (NULL: no memory). */
static void *pool_object(pj_pool_factory *pf, const char *name, pj_size_t size)
{
    pj_pool_t *pool = pj_pool_create(pf, name, size + 1024, 1024, NULL);
    void *obj;
    if (!pool) return NULL;
    obj = pj_pool_zalloc(pool, size);
    *(pj_pool_t **) obj = pool;         /* each object's first member is its pool */
    return obj;
}

/* ---------- the clock: sound device or null clock ----------------------------------------- */

static void bridge_stop_clock(sc_bridge *b)
{
    if (b->snd) {
        pjmedia_snd_port_disconnect(b->snd);
        pjmedia_snd_port_destroy(b->snd);
        b->snd = NULL;
    }
    if (b->master) {
        pjmedia_master_port_stop(b->master);
        pjmedia_master_port_destroy(b->master, PJ_FALSE);
        b->master = NULL;
    }
}

static pj_status_t bridge_null_clock(sc_bridge *b)
{
    pj_status_t st = pjmedia_master_port_create(b->pool, b->null_clock_port,
                                                pjmedia_conf_get_master_port(b->conf), 0,
                                                &b->master);
    if (st != PJ_SUCCESS) return st;
    st = pjmedia_master_port_start(b->master);
    if (st != PJ_SUCCESS) {
        pjmedia_master_port_destroy(b->master, PJ_FALSE);
        b->master = NULL;
    }
    return st;
}

pj_status_t sc_bridge_set_device(sc_bridge *b, int use_device, int rec_id, int play_id,
                                 unsigned ec_tail_ms)
{
    pj_status_t st;
    bridge_stop_clock(b);
    if (use_device) {
        st = pjmedia_snd_port_create(b->pool, rec_id, play_id, b->clock_rate, 1, b->spf, 16, 0,
                                     &b->snd);
        if (st == PJ_SUCCESS) {
            if (ec_tail_ms)
                pjmedia_snd_port_set_ec(b->snd, b->pool, ec_tail_ms, 0);
            st = pjmedia_snd_port_connect(b->snd, pjmedia_conf_get_master_port(b->conf));
            if (st == PJ_SUCCESS) return PJ_SUCCESS;
            pjmedia_snd_port_destroy(b->snd);
            b->snd = NULL;
        }
        /* the device failed: the bridge keeps running on the null clock, and the caller
         * reports st */
        bridge_null_clock(b);
        return st;
    }
    return bridge_null_clock(b);
}

/* 1: a sound device clocks the bridge, 2: the null clock, 0: nothing (a failure) */
int sc_bridge_has_device(sc_bridge *b)
{
    return b->snd ? 1 : b->master ? 2 : 0;
}

/* ---------- the bridge ------------------------------------------------------------------ */

void sc_bridge_destroy(sc_bridge *b)
{
    unsigned i;
    if (!b) return;
    bridge_stop_clock(b);
    if (b->conf) pjmedia_conf_destroy(b->conf);
    for (i = 0; i < SC_BRIDGE_MAX_SLOTS; ++i)
        if (b->slot_pools[i]) pj_pool_release(b->slot_pools[i]);
    if (b->tones) pjmedia_port_destroy(b->tones);
    if (b->silence) pjmedia_port_destroy(b->silence);
    if (b->null_clock_port) pjmedia_port_destroy(b->null_clock_port);
    if (b->aud_inited) pjmedia_aud_subsys_shutdown();
    pj_pool_release(b->pool);
}

pj_status_t sc_bridge_create(pj_pool_factory *pf, unsigned clock_rate, sc_bridge **p_bridge)
{
    sc_bridge *b = pool_object(pf, "sc-bridge", sizeof(sc_bridge));
    pj_status_t st;
    *p_bridge = NULL;
    if (!b) return PJ_ENOMEM;
    b->pf = pf;
    b->clock_rate = clock_rate;
    b->spf = clock_rate * SC_PTIME_MS / 1000;
    st = pjmedia_aud_subsys_init(pf);
    if (st != PJ_SUCCESS) goto fail;
    b->aud_inited = 1;
    st = pjmedia_conf_create(b->pool, SC_BRIDGE_MAX_SLOTS, clock_rate, 1, b->spf, 16,
                             PJMEDIA_CONF_NO_DEVICE, &b->conf);
    if (st != PJ_SUCCESS) goto fail;
    st = pjmedia_null_port_create(b->pool, clock_rate, 1, b->spf, 16, &b->null_clock_port);
    if (st != PJ_SUCCESS) goto fail;
    st = pjmedia_null_port_create(b->pool, clock_rate, 1, b->spf, 16, &b->silence);
    if (st != PJ_SUCCESS) goto fail;
    st = pjmedia_conf_add_port(b->conf, b->pool, b->silence, NULL, &b->silence_slot);
    if (st != PJ_SUCCESS) goto fail;
    st = pjmedia_tonegen_create(b->pool, clock_rate, 1, b->spf, 16, 0, &b->tones);
    if (st != PJ_SUCCESS) goto fail;
    st = pjmedia_conf_add_port(b->conf, b->pool, b->tones, NULL, &b->tones_slot);
    if (st != PJ_SUCCESS) goto fail;
    st = pjmedia_conf_connect_port(b->conf, b->tones_slot, 0, 0);
    if (st != PJ_SUCCESS) goto fail;
    *p_bridge = b;
    return PJ_SUCCESS;
fail:
    sc_bridge_destroy(b);
    return st;
}

int sc_bridge_slot(sc_bridge *b, int which)
{
    return which == 1 ? (int) b->silence_slot : (int) b->tones_slot;
}

pj_status_t sc_bridge_add(sc_bridge *b, pjmedia_port *port, int *slot)
{
    unsigned s = 0;
    pj_status_t st;
    pj_pool_t *pool;
    *slot = -1;
    if (!port) return PJ_EINVAL;
    pool = pj_pool_create(b->pf, "sc-slot", 4096, 4096, NULL);
    if (!pool) return PJ_ENOMEM;
    st = pjmedia_conf_add_port(b->conf, pool, port, NULL, &s);
    if (st != PJ_SUCCESS || s >= SC_BRIDGE_MAX_SLOTS) {
        if (st == PJ_SUCCESS) pjmedia_conf_remove_port(b->conf, s);
        pj_pool_release(pool);
        return st == PJ_SUCCESS ? PJ_ETOOMANY : st;
    }
    b->slot_pools[s] = pool;
    *slot = (int) s;
    return PJ_SUCCESS;
}

/* pjproject 2.12's pjmedia_conf_remove_port is synchronous (under the mutex the clock thread
 * holds for a tick): after it the port is never called again and the slot's pool may go. */
pj_status_t sc_bridge_remove(sc_bridge *b, int slot)
{
    pj_status_t st;
    if (slot <= 0 || slot >= SC_BRIDGE_MAX_SLOTS || !b->slot_pools[slot]) return PJ_EINVAL;
    st = pjmedia_conf_remove_port(b->conf, (unsigned) slot);
    pj_pool_release(b->slot_pools[slot]);
    b->slot_pools[slot] = NULL;
    return st;
}

pj_status_t sc_bridge_connect(sc_bridge *b, int src, int dst, int connect)
{
    if (connect)
        return pjmedia_conf_connect_port(b->conf, (unsigned) src, (unsigned) dst, 0);
    return pjmedia_conf_disconnect_port(b->conf, (unsigned) src, (unsigned) dst);
}

pj_status_t sc_bridge_rx_level(sc_bridge *b, int slot, int adj)
{
    return pjmedia_conf_adjust_rx_level(b->conf, (unsigned) slot, adj);
}

pj_status_t sc_bridge_mute_tx(sc_bridge *b, int slot, int mute)
{
    return pjmedia_conf_configure_port(b->conf, (unsigned) slot,
                                       mute ? PJMEDIA_PORT_MUTE : PJMEDIA_PORT_ENABLE,
                                       PJMEDIA_PORT_NO_CHANGE);
}

pj_status_t sc_bridge_play_dtmf(sc_bridge *b, char digit)
{
    pjmedia_tone_digit d;
    pj_status_t st;
    pj_bzero(&d, sizeof(d));
    d.digit = digit;
    d.on_msec = 100;
    d.off_msec = 50;
    d.volume = 0;
    /* The tone generator holds PJMEDIA_TONEGEN_MAX_DIGITS digits until its queue has played out
     * (it asserts past that): count what was given since it was last idle, refuse beyond. */
    if (!pjmedia_tonegen_is_busy(b->tones)) b->tones_queued = 0;
    if (b->tones_queued >= PJMEDIA_TONEGEN_MAX_DIGITS) return PJ_ETOOMANY;
    st = pjmedia_tonegen_play_digits(b->tones, 1, &d, 0);
    if (st == PJ_SUCCESS) b->tones_queued++;
    return st;
}

/* ---------- sound devices ------------------------------------------------------------------ */

int sc_aud_dev_count(void)
{
    return (int) pjmedia_aud_dev_count();
}

int sc_aud_dev_info(int id, char *name, int size, int *inputs, int *outputs)
{
    pjmedia_aud_dev_info info;
    if (pjmedia_aud_dev_get_info(id, &info) != PJ_SUCCESS || size <= 0) return -1;
    strncpy(name, info.name, (size_t) size - 1);
    name[size - 1] = '\0';
    *inputs = (int) info.input_count;
    *outputs = (int) info.output_count;
    return 0;
}

/* ---------- file ports ------------------------------------------------------------------ */

static pj_status_t player_get_frame(pjmedia_port *this_port, pjmedia_frame *frame)
{
    sc_fileport *fp = (sc_fileport *) ((char *) this_port - offsetof(sc_fileport, base));
    pj_status_t st = PJ_SUCCESS;
    int eof = 0;
    pj_mutex_lock(fp->lock);
    if (fp->rewind) {
        fp->rewind = 0;
        fp->ended = 0;
        pjmedia_wav_player_port_set_pos(fp->inner, 0);
    }
    if (!fp->ended) {
        st = pjmedia_port_get_frame(fp->inner, frame);
        if (st != PJ_SUCCESS || frame->type != PJMEDIA_FRAME_TYPE_AUDIO) {
            fp->ended = 1;
            eof = 1;
        }
    }
    pj_mutex_unlock(fp->lock);
    if (fp->ended) {
        frame->type = PJMEDIA_FRAME_TYPE_NONE;
        frame->size = 0;
    }
    if (eof)
        sc_media_event(fp->token, SC_MEDIA_WAVE_EOF, 0, st == PJ_EEOF ? PJ_SUCCESS : st, NULL);
    return PJ_SUCCESS;
}

static pj_status_t player_put_frame(pjmedia_port *this_port, pjmedia_frame *frame)
{
    PJ_UNUSED_ARG(this_port);
    PJ_UNUSED_ARG(frame);
    return PJ_SUCCESS;
}

static pj_status_t player_on_destroy(pjmedia_port *this_port)
{
    PJ_UNUSED_ARG(this_port);
    return PJ_SUCCESS;
}

static unsigned le32(const unsigned char *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (unsigned) p[3] << 24;
}

/* What a WaveFile plays, checked before PJMEDIA reads the file, because pjproject 2.12 asserts
 * (aborts the process) on some files its wav player accepts or half-checks:
 *   - a header with 0 channels or a 0 sample rate (pjmedia_port_info_init);
 *   - a rate that is not a multiple of 50 Hz (11025): pjmedia_conf sizes a port's buffer as
 *     clock_rate * 20 / 1000 samples, the frames do not add up and read_port asserts;
 *   - A-law/u-law whose 16-bit frame does not fit the player's buffer, min(4000 bytes, the
 *     data's length): creation checks one byte per sample, get_frame asserts on two.
 * Accepted: mono 16-bit PCM or 8-bit A-law/u-law, 4000..96000 Hz in steps of 50 Hz, the
 * "fmt " chunk first (where PJMEDIA reads it), a data chunk holding more than a frame of
 * 16-bit samples (its declared length cut to what the file holds, as PJMEDIA does). */
static pj_status_t check_wave_header(const char *path)
{
    unsigned char h[36];
    FILE *f = fopen(path, "rb");
    unsigned fmt_len, tag, nchan, rate, align, bits, data_len = 0, frame16;
    long pos;
    int found = 0, guard;
    if (!f) return PJ_ENOTFOUND;
    if (fread(h, 1, sizeof(h), f) != sizeof(h) || memcmp(h, "RIFF", 4)
            || memcmp(h + 8, "WAVE", 4) || memcmp(h + 12, "fmt ", 4)) {
        fclose(f);
        return PJMEDIA_ENOTVALIDWAVE;
    }
    fmt_len = le32(h + 16);
    tag = h[20] | h[21] << 8;
    nchan = h[22] | h[23] << 8;
    rate = le32(h + 24);
    align = h[32] | h[33] << 8;
    bits = h[34] | h[35] << 8;
    /* the chunks after "fmt ", up to "data", as PJMEDIA walks them */
    pos = 20 + (long) (fmt_len < 16 ? 16 : fmt_len > 4096 ? 4096 : fmt_len);
    for (guard = 0; guard < 64 && fseek(f, pos, SEEK_SET) == 0; ++guard) {
        unsigned char c[8];
        if (fread(c, 1, 8, f) != 8) break;
        if (!memcmp(c, "data", 4)) {
            /* the length PJMEDIA uses: the declared one, at most what the file holds */
            long end;
            data_len = le32(c + 4);
            if (fseek(f, 0, SEEK_END) == 0 && (end = ftell(f)) >= pos + 8
                    && (unsigned long) (end - pos - 8) < data_len)
                data_len = (unsigned) (end - pos - 8);
            found = 1;
            break;
        }
        pos += 8 + (long) le32(c + 4);
    }
    fclose(f);
    if (fmt_len < 16 || fmt_len > 4096 || !found)
        return PJMEDIA_ENOTVALIDWAVE;
    if (nchan != 1)
        return PJMEDIA_ENCCHANNEL;
    if (!((tag == PJMEDIA_WAVE_FMT_TAG_PCM && bits == 16) ||
          ((tag == PJMEDIA_WAVE_FMT_TAG_ALAW || tag == PJMEDIA_WAVE_FMT_TAG_ULAW) && bits == 8))
            || align != bits / 8)
        return PJMEDIA_EWAVEUNSUPP;
    if (rate % (1000 / SC_PTIME_MS) != 0 || rate < 4000 || rate > 96000)
        return PJMEDIA_ENCCLOCKRATE;
    frame16 = rate * SC_PTIME_MS / 1000 * 2;
    if (data_len <= frame16)
        return PJMEDIA_EWAVETOOSHORT;
    return PJ_SUCCESS;
}

pj_status_t sc_fileport_create(pj_pool_factory *pf, const char *path, int is_player,
                               unsigned clock_rate, uintptr_t token, sc_fileport **p_fp)
{
    sc_fileport *fp = pool_object(pf, "sc-wave", sizeof(sc_fileport));
    pj_pool_t *pool;
    pj_status_t st;
    *p_fp = NULL;
    if (!fp) return PJ_ENOMEM;
    pool = fp->pool;
    fp->token = token;
    fp->is_player = is_player;
    if (is_player) {
        st = check_wave_header(path);
        if (st == PJ_SUCCESS)
            st = pjmedia_wav_player_port_create(pool, path, SC_PTIME_MS, PJMEDIA_FILE_NO_LOOP,
                                                0, &fp->inner);
        if (st == PJ_SUCCESS)
            st = pj_mutex_create_simple(pool, "sc-wave", &fp->lock);
        if (st == PJ_SUCCESS) {
            pj_str_t name = pj_str((char *) "sc-player");
            pjmedia_audio_format_detail *afd =
                pjmedia_format_get_audio_format_detail(&fp->inner->info.fmt, PJ_TRUE);
            pjmedia_port_info_init(&fp->base.info, &name, PJMEDIA_SIG_CLASS_PORT_AUD('s', 'p'),
                                   afd->clock_rate, afd->channel_count, afd->bits_per_sample,
                                   PJMEDIA_AFD_SPF(afd));
            fp->base.get_frame = &player_get_frame;
            fp->base.put_frame = &player_put_frame;
            fp->base.on_destroy = &player_on_destroy;
        }
    } else {
        st = pjmedia_wav_writer_port_create(pool, path, clock_rate, 1,
                                            clock_rate * SC_PTIME_MS / 1000, 16, 0, 0,
                                            &fp->inner);
    }
    if (st != PJ_SUCCESS) {
        if (fp->inner) pjmedia_port_destroy(fp->inner);
        if (fp->lock) pj_mutex_destroy(fp->lock);
        pj_pool_release(pool);
        return st;
    }
    *p_fp = fp;
    return PJ_SUCCESS;
}

pjmedia_port *sc_fileport_port(sc_fileport *fp)
{
    return fp->is_player ? &fp->base : fp->inner;
}

void sc_fileport_rewind(sc_fileport *fp)
{
    if (!fp->is_player) return;
    pj_mutex_lock(fp->lock);
    fp->rewind = 1;
    pj_mutex_unlock(fp->lock);
}

/* The port must have been removed from the bridge.  A writer completes its file (header,
 * last buffered samples) here. */
void sc_fileport_destroy(sc_fileport *fp)
{
    if (!fp) return;
    pjmedia_port_destroy(fp->inner);
    if (fp->lock) pj_mutex_destroy(fp->lock);
    pj_pool_release(fp->pool);
}
