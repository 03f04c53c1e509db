/*
 * The switching policy of discovery/src/selection (decide.rs, flap.rs,
 * policy.rs) as a Promela model, checked by spin (issue 14). The test
 * discovery/tests/switching_model.rs runs it and holds the constants below
 * to the Rust defaults (SwitchPolicy::default(), FlapDamping::default()).
 *
 * Two producers of one clause, P0 ranked above P1 (a better PREFER value).
 * Time moves in ticks of TICK_MS. Each tick the environment may change one
 * producer's health (OK, DEGRADED, FAILED; UNKNOWN, unreachable and
 * removed are left at once like FAILED, rule 1), at most MAX_CHANGES times
 * in a run, so every run ends in a calm where liveness can be judged; then
 * the selection decides, as Selection::decide does after each input.
 *
 * Abstractions: the penalty is in quarters (PENALTY_Q = 4 is 1.0) and
 * halves once per half-life instead of continuously; a timer in ms is
 * rounded up to whole ticks. Margin is 0 (any better rank challenges).
 *
 * Circuit breakers (breaker.rs, guard.rs; SwitchPolicy::breaker): each
 * producer's link is CLOSED, OPEN (ejected) or HALF (half-open, probed).
 * The environment may trip a link (max_errors errors within the
 * interval: late samples or health flaps, abstracted to one event); a trip
 * counts against MAX_CHANGES like a health change; an ejection lasts any whole number of ticks
 * (Rust: base_ejection times its count, capped; the model leaves the
 * length free, which covers every such length and keeps the state space
 * small), then the link is half-open for at most PROBE_WINDOW_MS: the
 * probe succeeds
 * (enough on-time samples) at any tick, or at the window's end it either
 * closes or is ejected again, nondeterministically. An ejection that would
 * leave more than MAX_EJECTED_SHARE_PCT % of the links ejected (one
 * always allowed) is refused. A closed link waits to restore afresh.
 *
 * Checked (see the ltl claims and asserts):
 * - safety: never FAILED while an OK producer qualifies, after a decision;
 * - breakers: never an ejected (open or half-open) producer while a closed
 *   one qualifies; never more links ejected than the share allows;
 *   half_open_ends: half-open always ends, whatever the samples do;
 * - damping: while a producer's flap suppression lasts, the selection
 *   switches to it at most once, and only when nothing unsuppressed
 *   qualifies (a switch away from a producer its breaker ejected is not
 *   counted: like a FAILED one, it must go, and when the flapping producer
 *   is the only other one left it is the last resort; with breakers a
 *   suppressed producer may so be followed again within one suppression,
 *   each time only because nothing else qualified);
 * - ends_well: once the environment is calm, the selection ends (and stays)
 *   on a qualifying producer whenever one exists;
 * - no_livelock: once calm, switching stops for good.
 */

#define TICK_MS            250
#define HOLD_OFF_MS        200
#define WAIT_TO_RESTORE_MS 1000
#define REVERTIVE          1
#define HALF_LIFE_MS       5000
#define PENALTY_Q          4
#define SUPPRESS_Q         10
#define REUSE_Q            3
#define MAX_SUPPRESS_HALF_LIVES 4
#define MAX_CHANGES        4
#define PROBE_WINDOW_MS    1000
#define MAX_EJECTED_SHARE_PCT 50

/* Timers in ticks, rounded up. */
#define HOLD_T   ((HOLD_OFF_MS + TICK_MS - 1) / TICK_MS)
#define WTR_T    ((WAIT_TO_RESTORE_MS + TICK_MS - 1) / TICK_MS)
#define HALF_T   ((HALF_LIFE_MS + TICK_MS - 1) / TICK_MS)
#define PROBE_T  ((PROBE_WINDOW_MS + TICK_MS - 1) / TICK_MS)
/* Breakers::max_ejected with two links: floor(2 x share), at least one. */
#define MAX_EJ   ((2 * MAX_EJECTED_SHARE_PCT / 100) > 1 -> 2 : 1)
/* The penalty's ceiling, as damping.rs caps it. */
#define CEIL_Q   (REUSE_Q << MAX_SUPPRESS_HALF_LIVES)

#define OK     0
#define DEG    1
#define FAILED 2
#define NONE   2

byte st[2];          /* health of P0, P1 */
byte pen[2];         /* flap penalty, quarters */
bool supp[2];        /* flap-suppressed */
byte stable[2];      /* ticks since its last health change, capped */
byte decay;          /* ticks since the last halving */
byte sel = NONE;     /* the producer followed */
short hold = -1;     /* hold-off ticks left; -1: not running */
byte changes;        /* environment changes so far */
bool calm;           /* the environment has made its last change */
bool switched;       /* the last decision switched */
#define CLOSED 0
#define OPEN   1
#define HALF   2
byte br[2];          /* breaker of each link */
byte bt[2];          /* ticks left in the probe window */
bool by_breaker;     /* the switch being made leaves an ejected producer */
byte to_supp[2];     /* switches to i during its current suppression */

#define qualifies(i)  (st[i] != FAILED)
#define ej(i)         (br[i] != CLOSED)
#define n_ej          ((br[0] != CLOSED) + (br[1] != CLOSED))
/* i is ranked above j in the chain: OK before DEGRADED, then P0 first. */
#define above(i, j)   (st[i] < st[j] || (st[i] == st[j] && i < j))
#define any_ok        ((st[0] == OK) || (st[1] == OK))
#define active_good   (sel != NONE && qualifies(sel))
#define none_good     (!qualifies(0) && !qualifies(1))

/* The chain's best producer neither ejected nor suppressed, else the best
 * not ejected, else the best (the last resort), else NONE:
 * Selection::pick_best. */
#define free(i)  (qualifies(i) && !ej(i) && !supp[i])
#define open_(i) (qualifies(i) && !ej(i))
inline pick_best(best) {
    best = NONE;
    if
    :: free(0) && (!free(1) || above(0, 1)) -> best = 0
    :: free(1) && (!free(0) || above(1, 0)) -> best = 1
    :: else ->
        if
        :: open_(0) && (!open_(1) || above(0, 1)) -> best = 0
        :: open_(1) && (!open_(0) || above(1, 0)) -> best = 1
        :: else ->
            if
            :: qualifies(0) && (!qualifies(1) || above(0, 1)) -> best = 0
            :: qualifies(1) && !(qualifies(0) && above(0, 1)) -> best = 1
            :: else -> skip
            fi
        fi
    fi
}

inline switch_to(target) {
    if
    :: target != sel ->
        if
        :: target != NONE && supp[target] ->
            assert(none_good || !qualifies(1 - target) || supp[1 - target]
                   || ej(1 - target));
            if
            :: !by_breaker -> to_supp[target]++; assert(to_supp[target] <= 1)
            :: else -> skip
            fi
        :: else -> skip
        fi;
        sel = target;
        switched = 1
    :: else -> skip
    fi
}

/* Selection::decide: rules 1-3 (decide.rs). */
inline decide() {
    byte best, other;
    switched = 0;
    if
    :: sel == NONE ->
        hold = -1;
        pick_best(best);
        switch_to(best)
    :: sel != NONE && st[sel] == FAILED ->       /* rule 1 */
        hold = -1;
        pick_best(best);
        switch_to(best)
    :: sel != NONE && st[sel] != FAILED && ej(sel) ->  /* rule 1: ejected */
        hold = -1;
        pick_best(best);
        by_breaker = 1;
        switch_to(best);
        by_breaker = 0
    :: sel != NONE && st[sel] == DEG && !ej(sel) ->    /* rule 2 */
        other = 1 - sel;
        if
        :: qualifies(other) && above(other, sel) && !supp[other] && !ej(other) ->
            if
            :: hold == -1 -> hold = HOLD_T
            :: else -> skip
            fi;
            if
            :: hold == 0 -> hold = -1; switch_to(other)
            :: else -> skip
            fi
        :: else -> hold = -1                      /* nothing better: keep it */
        fi
    :: sel != NONE && st[sel] == OK && !ej(sel) ->     /* rule 3 */
        hold = -1;
        other = 1 - sel;
        if
        :: (REVERTIVE && qualifies(other) && above(other, sel) && !ej(other)
               && !supp[other] && stable[other] >= WTR_T) ->
            switch_to(other)
        :: else -> skip
        fi
    fi;
    best = 0; other = 0
}

inline change(i) {
    if
    :: st[i] != OK -> st[i] = OK
    :: st[i] != DEG -> st[i] = DEG
    :: st[i] != FAILED -> st[i] = FAILED
    fi;
    stable[i] = 0;
    pen[i] = (pen[i] + PENALTY_Q > CEIL_Q -> CEIL_Q : pen[i] + PENALTY_Q);
    if
    :: !supp[i] && pen[i] > SUPPRESS_Q -> supp[i] = 1; to_supp[i] = 0
    :: else -> skip
    fi;
    changes++
}

/* Breakers::eject: `again` for a failed probe, which needs no room under
 * the share; a refused ejection changes nothing. */
inline eject(i, again) {
    if
    :: again || n_ej + 1 <= MAX_EJ ->
        br[i] = OPEN;
        bt[i] = 0
    :: else -> skip
    fi
}

/* Max errors within the interval: a flap or late samples. */
inline trip(i) {
    if
    :: br[i] == CLOSED -> eject(i, 0)
    :: br[i] == HALF -> eject(i, 1)
    :: else -> skip
    fi;
    changes++
}

/* Enough on-time samples: the probe closes the link, which waits to
 * restore afresh (guard.rs: recovered, stable since now). */
inline close(i) {
    br[i] = CLOSED;
    bt[i] = 0;
    stable[i] = 0
}

/* Breakers::tick: an ejection ends in half-open (at any tick: its length
 * is free); a probe window that ends closes the link (enough samples) or
 * ejects it again. */
inline breaker_timer(i) {
    if
    :: br[i] == HALF && bt[i] > 0 -> bt[i]--
    :: else -> skip
    fi;
    if
    :: br[i] == OPEN -> br[i] = HALF; bt[i] = PROBE_T
    :: br[i] == OPEN -> skip
    :: br[i] == HALF && bt[i] == 0 ->
        if
        :: close(i)
        :: eject(i, 1)
        fi
    :: else -> skip
    fi
}

inline time_passes() {
    breaker_timer(0);
    breaker_timer(1);
    if :: hold > 0 -> hold-- :: else -> skip fi;
    if :: stable[0] < WTR_T -> stable[0]++ :: else -> skip fi;
    if :: stable[1] < WTR_T -> stable[1]++ :: else -> skip fi;
    decay++;
    if
    :: decay >= HALF_T -> decay = 0; pen[0] = pen[0] / 2; pen[1] = pen[1] / 2
    :: else -> skip
    fi;
    if :: supp[0] && pen[0] < REUSE_Q -> supp[0] = 0 :: else -> skip fi;
    if :: supp[1] && pen[1] < REUSE_Q -> supp[1] = 0 :: else -> skip fi
}

active proctype world() {
    /* Both start OK, as adverts arrive. */
    atomic { decide() }
end_loop:
    do
    :: atomic {
        time_passes();
        if
        :: changes < MAX_CHANGES -> change(0)
        :: changes < MAX_CHANGES -> change(1)
        :: skip
        :: changes < MAX_CHANGES -> trip(0)
        :: changes < MAX_CHANGES -> trip(1)
        :: br[0] == HALF -> close(0)
        :: br[1] == HALF -> close(1)
        :: changes < MAX_CHANGES -> calm = 1; changes = MAX_CHANGES
        :: changes >= MAX_CHANGES -> calm = 1
        fi;
        decide();
        /* Safety: never FAILED while an OK producer qualifies. */
        assert(!(sel != NONE && st[sel] == FAILED && any_ok));
        /* Never nothing while something qualifies. */
        assert(sel != NONE || none_good);
        /* Never an ejected producer while a closed one qualifies. */
        assert(!(sel != NONE && ej(sel) && open_(1 - sel)));
        /* Never more ejected than the share allows. */
        assert(n_ej <= MAX_EJ)
       }
    od
}

ltl half_open_ends { [] ((br[0] == HALF -> <> (br[0] != HALF))
                        && (br[1] == HALF -> <> (br[1] != HALF))) }
ltl ends_well { [] (calm -> <> [] (active_good || none_good)) }
ltl no_livelock { [] (calm -> <> [] !switched) }
