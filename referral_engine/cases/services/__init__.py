"""Every write to persons, cases, referrals, consents, activities and slips (CONVENTIONS 1–2, 6),
one module per use-case:

- `intake`: open a case at the actor's window (`case_open`), with its person, consent, first note
  and referrals in one transaction;
- `persons`: the person an intake names or creates, and its duplicate check;
- `referrals`: make a referral, run its handoff and stage transitions, assign its worker;
- `case_state`: the case's own transitions, its lead, and releasing a leaver's assignments;
- `records`: activities, consents and the departments' stage records;
- `slips`: a connector's つなぎ票, which opens a case at the desk.

The UI, the API, the admin actions, the commands and the timers call the public functions of these
modules (`from referral_engine.cases.services.referrals import referral_transition`), so they behave
the same: each one checks the policy first, locks what it changes, runs the FSM transition in
memory, saves only the changed fields through `save_with_history` (acting user + reason), writes the
timeline event, reconciles grants and timers, and queues notifications in the same transaction.

Shared pieces: `guards` (the access checks every public function starts with), `departments`
(department lookups and the people of a department), `changes` (what changed on a row; the case's
stall clock). Input cleaning is `referral_engine.cases.inputs`, case numbers `cases.numbering`.
This package re-exports nothing: import a function from the module of its use-case.
"""
