// Package draw is suiji's random selection, algorithm suiji-draw/2: the
// pool rules of art. 13 and 16, Rivest's SHA-256 sampler, proportional
// allocation across towns, the exact group step of art. 15, replacements
// after dispatch, and the public records and verifiers of all of it. It is
// pure and deterministic — no I/O, no clock, no randomness of its own: an
// attempt is a function of its seed and its frozen inputs.
//
// The procedure is specified in SPEC.md beside this file (served at
// /public/v1/draw-spec and linked from every record), written so that
// someone who never saw this code can implement it; the code follows the
// text. Records of suiji-draw/1 are verified by package drawv1, to which
// VerifyStream dispatches.
//
// # Seeds
//
// Three kinds of seed, as distinct types so one cannot be passed for
// another: a SealedSeed is the secret of one attempt, committed before it
// (Commitment) and revealed by it; a DrawSeed is the sealed seed combined
// with the public entropy given at draw time (NewDrawSeed); a DerivedSeed
// is the seed of one labelled part of the attempt (DrawSeed.Derive), and
// the only kind the sampler (Pick, Sample) takes.
//
// # A draw
//
// A service freezes the inputs at commit (NewInputs: the pool from the
// candidates its store found, the roster), publishes their hashes with the
// seed's commitment, and checks without a seed that groups can be formed
// (Check). At draw time NewRecord runs the attempt (Run) and assembles the
// public Record — a failed attempt (no assignment of groups exists; a
// *GroupError in aggregate terms) gives a record without seed or
// selection. Verify, VerifyHistory and VerifyStream check records; a
// *Mismatch names the first field found wrong.
//
// # Replacements (for dispatch)
//
// A member of a drawn group who must go out after dispatch (回避, illness)
// is replaced at random, never by hand. The dispatch use case:
//
//  1. makes a fresh SealedSeed (NewSealedSeed) and publishes its
//     Commitment — with the entropy source, if any, and RosterHash of the
//     roster it freezes — before the replacement;
//  2. builds a ReplacementInput: the enterprise, the badge going out, the
//     group in force (the draw's Selection.Group, or the GroupAfter of the
//     task's previous Replacement), the draw's Groups.Required,
//     ValidThrough and KeepLastInspectors, and every inspector of the
//     plan's departments as Officers (conflicts and last inspections at
//     least as they concern this enterprise);
//  3. checks ReplacementInput.Eligible is not empty before revealing
//     anything (else ErrNoReplacement: nothing to draw, nothing to record);
//  4. calls NewReplacement with the Attempt (ID, Seq — 1, 2, … within the
//     draw — times, commitment, entropy source and value, seed) and the
//     reason, stores the *Replacement as it is and publishes it.
//
// VerifyReplacement checks one replacement, VerifyReplacements a draw's
// replacements against its record, in order.
package draw
