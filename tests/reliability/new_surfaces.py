"""
The classes of faults searched on the surfaces added last (the view, the shared budget, reuse, the
job record) and in the first day of a new user, each with the test that failed before its fix and
passes now. Rendered into ``MATRIX.md`` by ``test_fault_matrix.py``; ``test_new_surfaces.py`` checks
that every test named here exists.
"""

from __future__ import annotations

#: (class, test node id, before, after)
NEW_SURFACES: tuple[tuple[str, str, str, str], ...] = (
    # The view (issue 16.1-16.3)
    (
        "View: output host answers HTML/SVG or lies about its type",
        "tests/adversarial/test_view_media.py::test_an_output_host_answering_no_video_gets_nothing_sent",
        "200 text/html: script on Airflow's origin",
        "nothing sent; nosniff and a sandbox CSP",
    ),
    (
        "View: a ranged answer skips the container check",
        "tests/adversarial/test_view_media.py::test_a_ranged_answer_is_sent_only_after_the_outputs_first_bytes_were_checked",
        "HTML bytes relayed as 206",
        "the first bytes probed and refused",
    ),
    (
        "View: huge Content-Length",
        "tests/adversarial/test_view_media.py::test_a_huge_content_length_is_refused_before_any_byte",
        "header relayed",
        "refused before the first byte",
    ),
    (
        "View: endless body",
        "tests/adversarial/test_view_media.py::test_a_body_with_no_length_is_cut_at_the_largest_video",
        "whole body streamed",
        "cut at the largest video size",
    ),
    (
        "View: host drips headers or first bytes",
        "tests/adversarial/test_view_media.py::test_a_dripping_output_host_is_cut_off_by_the_total_deadline",
        "held until the host gave up",
        "cut at view_media_timeout_seconds",
    ),
    (
        "View: slow hosts starve Airflow's shared thread pool",
        "tests/adversarial/test_view_media.py::test_slow_output_hosts_never_hold_airflows_shared_thread_pool",
        "viewers and the spend page hang",
        "extra viewers get 503, the spend page answers",
    ),
    (
        "View: a forged asset event or XCom names airflow.cfg",
        "tests/adversarial/test_view_forgery.py::test_a_forged_asset_event_or_xcom_never_makes_the_view_read_a_file",
        "airflow.cfg streamed to every viewer",
        "never listed or read, even with its folder allowed",
    ),
    (
        "View: a symlink left in an allowed folder (to airflow.cfg, a FIFO); the refusal quoting bytes",
        "tests/adversarial/test_view_symlinks.py::test_a_symlink_in_an_allowed_folder_to_a_file_outside_is_never_read",
        "the file's first 12 bytes in the 404 and the log; a FIFO held a thread",
        "not followed, not read; no byte shown; a FIFO refused at once",
    ),
    (
        "View: a stored copy served by its extension",
        "tests/ui/test_ui_pages.py::test_a_stored_object_that_is_no_video_is_never_served",
        "text/html, image/png",
        "refused: not a video",
    ),
    (
        "View: security headers on every answer",
        "tests/adversarial/test_view_forgery.py::test_every_answer_of_the_run_carries_the_security_headers",
        "none",
        "nosniff and a CSP on every answer (also on a real API server: tests/system/test_ui_view.py)",
    ),
    (
        "Spend: a summary passed on counts its job twice",
        "tests/adversarial/test_view_forgery.py::test_a_summary_passed_on_counts_its_job_once",
        "2 jobs, twice the cost",
        "1 job",
    ),
    # The shared budget (issue 16.4, 16.5; issue 17.7)
    (
        "Budget: a pause key left with an hour's TTL blocks get_job",
        "tests/hooks/test_shared_budget_bounds.py::test_a_pause_key_left_for_an_hour_holds_get_job_only_for_the_clamp",
        "still waiting at 30 s, 0 requests",
        "the clamp, then 1 GET",
    ),
    (
        "Budget: a pause renewed past the clamp",
        "tests/hooks/test_shared_budget_bounds.py::test_a_pause_renewed_past_the_clamp_counts_as_the_clamp_from_first_sight",
        "waits for ever",
        "a slot after the clamp",
    ),
    (
        "Budget: a slot wait under sustained contention",
        "tests/hooks/test_shared_budget_bounds.py::test_a_slot_wait_under_sustained_contention_ends_unsent_at_the_bound",
        "no bound",
        "rate-limit error at the bound, nothing sent",
    ),
    (
        "Budget: Redis FLUSHDB mid-window",
        "tests/hooks/test_shared_budget_reset.py::test_the_limit_holds_across_a_flushdb",
        "16 to 20 in a window of 10",
        "at most 10",
    ),
    (
        "Budget: Redis restarted without its data",
        "tests/hooks/test_shared_budget_reset.py::test_the_limit_holds_across_a_restart_that_lost_everything",
        "20 in a window of 10",
        "at most 10",
    ),
    (
        "Budget: failover to a replica that missed the last writes",
        "tests/hooks/test_shared_budget_reset.py::test_the_limit_holds_across_a_failover_to_a_replica_that_missed_the_last_writes",
        "15 in a window of 10",
        "at most 10",
    ),
    (
        "Budget: async Redis modules imported inside the event loop",
        "tests/hooks/test_shared_budget.py::test_waiting_in_the_event_loop_never_blocks_it",
        "about 60 modules loaded in the running loop",
        "none",
    ),
    # The job record and reuse (issue 16.6, 16.7)
    (
        "Record: partial or corrupted (Hypothesis over mutated, random, truncated records)",
        "tests/reliability/test_record_corruption.py::test_a_corrupted_record_never_buys_a_second_job",
        "a second POST",
        "0 POSTs; fails naming the record's REST path and its repair",
    ),
    (
        "Record: each reported partial record (no job id, null summary, bad time...)",
        "tests/reliability/test_record_corruption.py::test_each_reported_partial_record_fails_closed_saying_what_to_check",
        "submitted again",
        "final failure, 0 POSTs",
    ),
    (
        "Reuse: a cleared task run with another account",
        "tests/adversarial/test_reuse.py::test_a_cleared_task_run_with_another_account_pays_that_account_not_the_first_ones_video",
        "the first account's video, 0 POSTs",
        "a new POST for the new account",
    ),
    (
        "Reuse: reference image bytes changed under the same path",
        "tests/adversarial/test_reuse.py::test_reference_image_bytes_changed_under_the_same_path_are_a_new_video",
        "the old picture's video reused",
        "a new POST; unchanged bytes still reuse",
    ),
    (
        "Reuse: mapped and decorated siblings (searched)",
        "tests/adversarial/test_reuse.py::test_each_mapped_index_keeps_its_own_record_and_never_takes_a_siblings_video",
        "held",
        "held: 6 jobs for 6 instances",
    ),
    (
        "HITL: a stale approval publishes a video nobody reviewed",
        "tests/adversarial/test_approval_bypass.py::test_an_answer_not_offered_is_refused_and_a_stale_approval_never_publishes_a_new_video",
        "a never-reviewed video published",
        "only the reviewed video is published",
    ),
    (
        "Huge outputs list or Content-Length in a job answer (searched)",
        "tests/adversarial/test_huge_outputs.py::test_a_huge_job_answer_fails_clearly_within_bounded_memory_and_the_job_is_kept",
        "held",
        "held: refused unread, bounded memory, the job kept",
    ),
    # One policy, one edit (issue 18)
    (
        "A status made transient in one place retries every path",
        "tests/hooks/test_responses.py::TestOneEditRetriesAStatusEverywhere::test_a_409_made_transient_is_retried_by_an_api_get_and_a_download",
        "an API GET failed at once on 409",
        "API GETs and downloads retry it",
    ),
    (
        "A concept copied under another name",
        "tests/test_internals.py::test_a_concept_appears_under_no_other_name",
        "not seen (19 copies)",
        "fails on any copy",
    ),
    (
        "Mutation: the read-back after commit weakened to 'not empty'",
        "tests/transfers/test_read_back.py::test_a_storage_that_keeps_a_short_object_fails_the_transfer",
        "mutant survived",
        "caught",
    ),
    (
        "Mutation: the API key's registration removed",
        "tests/redaction/test_key_registration.py::test_a_key_read_by_the_hook_is_masked_in_every_http_log_record_at_debug",
        "mutant survived",
        "caught",
    ),
    (
        "Mutation: the billed POST resent after 408/425",
        "tests/hooks/test_billed_post.py::test_the_billed_post_is_sent_again_only_when_provably_refused",
        "mutant survived",
        "caught",
    ),
    # A new user's first day (issue 17)
    (
        "A templated non-text request field",
        "tests/operators/test_request_fields.py::test_priced_fields_templated_from_params_are_rendered_priced_and_sent",
        "DAG import error",
        "rendered, priced at the rendered values, sent",
    ),
    (
        "A bad rendered value in a real run",
        "tests/operators/test_request_fields.py::test_a_bad_rendered_value_of_a_real_run_fails_before_any_post_naming_task_file_and_field",
        "never reached",
        "fails with 0 POSTs naming task, DAG file, field, allowed values",
    ),
    (
        "The API down: the Test button",
        "tests/hooks/test_api_down.py::test_the_test_button_tries_once_with_a_short_deadline",
        "35 s of retries, no URL",
        "one try within 5 s, the Base URL named",
    ),
    (
        "The connection Test passes with a wrong key",
        "tests/hooks/test_connection_test.py::test_a_wrong_key_fails_the_test",
        "passed: the model list needs no key",
        "fails: an authenticated call",
    ),
    (
        "An unusable destination",
        "tests/transfers/test_destination_errors.py::test_a_local_path_that_cannot_exist",
        "raw FileNotFoundError after the download",
        "named with its fix before any byte is fetched",
    ),
    (
        "A missing storage connection",
        "tests/transfers/test_destination_errors.py::test_a_missing_storage_connection",
        "boto's EndpointConnectionError",
        "the connection named with how to add it, 0 downloads",
    ),
    (
        "One refused mapped video",
        "tests/example_dags/test_assets_and_mapping.py::test_one_refused_video_does_not_hold_back_the_paid_ones",
        "every sibling's store upstream_failed",
        "every other video stored",
    ),
)


#: Issue 19's paths (specs, the live catalogue, images, chains, templates, actual cost, Compose):
#: (class, test node id, before, after)
EVERY_JOB: tuple[tuple[str, str, str, str], ...] = (
    (
        "Specs: a spec file's price or rule differs from the model page",
        "tests/models/test_specs_by_hand.py::test_a_per_second_model_costs_its_page_rate_times_the_seconds",
        "fails on an edited row",
        "pass: tables typed by hand from the pages",
    ),
    (
        "Specs: a model with a spec is unknown to the simulator",
        "tests/testing/test_simulator_specs.py::test_a_model_with_a_spec_is_served_and_billed_by_its_rows",
        "404 for every model but two",
        "served, enforced, billed by its rows",
    ),
    (
        "Specs: client and simulator disagree on accepting or pricing a request",
        "tests/reliability/test_spec_agreement.py::test_what_the_operator_would_send_the_simulator_accepts_at_its_estimate",
        "kling-o3 4K with a video refused",
        "every generated request accepted at its estimate",
    ),
    (
        "Specs: a non-URL media reference in extra_params is sent",
        "tests/reliability/test_spec_agreement.py::test_an_image_reference_in_extra_params_is_refused_before_sending",
        "image_end='4k' sent, refused by the API",
        "refused before sending, naming the field",
    ),
    (
        "Specs: an unknown validation mode",
        "tests/reliability/test_video_models.py::test_an_unknown_validation_is_refused_when_built_naming_the_allowed_ones",
        "no argument",
        "refused naming strict, warn, off",
    ),
    (
        "Live catalogue: 500, HTML, 10 MB, a hang, a body echoing the key",
        "tests/operators/test_live_catalogue_runs.py::test_a_hostile_catalogue_never_fails_the_run",
        "no live read",
        "the run succeeds on the shipped spec, one warning, no key",
    ),
    (
        "Live catalogue: a live price over the cap",
        "tests/operators/test_live_catalogue_runs.py::test_a_live_price_over_the_cap_refuses_the_job_naming_the_difference",
        "shipped price used, job sent",
        "refused, 0 POSTs, the difference logged",
    ),
    (
        "Live catalogue: a catalogue GET before bad input is refused",
        "tests/operators/test_live_catalogue_runs.py::test_bad_input_is_refused_before_the_catalogue_is_read",
        "1 GET before the refusal",
        "0 requests",
    ),
    (
        "Images: a held (sync) answer lost to a failure after it arrived",
        "tests/reliability/test_crash_points.py::test_every_step_failing_in_turn_pays_at_most_once_and_delivers_the_video",
        "retry GETs a made-up id, paid images lost",
        "recorded done first; one POST",
    ),
    (
        "Images: a held URL answer, the worker killed in the usage read",
        "tests/operators/test_image.py::test_a_held_answers_urls_survive_a_worker_killed_while_reading_the_usage",
        "retry: unknown outcome, paid images lost",
        "retry returns them; one POST",
    ),
    (
        "Images: every step of a held URL answer failing in turn (searched: image_sync_url)",
        "tests/reliability/test_crash_points.py::test_every_step_failing_in_turn_pays_at_most_once_and_delivers_the_video",
        "a kill at the usage read lost the images",
        "delivered but for a kill before the record; one POST",
    ),
    (
        "Images: a b64_json image write failing once",
        "tests/operators/test_image.py::test_a_b64_image_whose_write_fails_once_is_written_on_a_second_attempt",
        "OSError, retry: unknown outcome, images lost",
        "written on the 2nd try; one POST",
    ),
    (
        "Images: a storage commit failing at each image in turn (searched: image_sync_b64)",
        "tests/reliability/test_crash_points.py::test_every_step_failing_in_turn_pays_at_most_once_and_delivers_the_video",
        "images lost, unknown outcome",
        "written on a retry of the write; one POST",
    ),
    (
        "Images: b64_json images that cannot be written at all",
        "tests/operators/test_image.py::test_b64_images_that_cannot_be_written_fail_saying_they_were_paid_and_a_retry_pays_nothing",
        'a bare OSError, retried into "unknown"',
        "fails without retries: paid, not stored, not sent again; one POST",
    ),
    (
        "Pricing: HappyHorse 1.0 in auto mode with a video (it may edit it)",
        "tests/models/test_specs_by_hand.py::test_happyhorse_1_0_videoedit",
        "priced as 5 s, passed a cap",
        "unpriced: a cap refuses it, naming why",
    ),
    (
        "Pricing: Kling O3 reference videos without a video",
        "tests/models/test_specs_by_hand.py::test_kling_o3_reference_videos_are_not_priced_as_text_to_video",
        "priced at the T2V rate",
        "unpriced: a cap refuses it",
    ),
    (
        "Validation: a Kling O3 scene's own seconds outside 3 to 15",
        "tests/models/test_specs_by_hand.py::test_kling_o3_scene_seconds_obey_the_per_scene_duration",
        "sent (a 40 s scene)",
        "refused naming the scene, 0 requests",
    ),
    (
        "Templates: default_params the provider cannot read",
        "tests/operators/test_templates.py::test_defaults_the_provider_cannot_read_leave_the_cost_unknown_so_a_cap_refuses",
        "dropped: the estimate left out what the API applies",
        "a cap refuses; without one, the log says so",
    ),
    (
        "Secrets: a long signed URL cut by shown() in an error",
        "tests/operators/test_templates.py::test_a_signed_url_in_a_templates_defaults_is_in_no_log_line_or_error",
        "the signature's tail in the exception text",
        "masked before the cut",
    ),
    (
        "Chains: a live price the chain's estimate ignored",
        "tests/operators/test_live_catalogue_runs.py::test_a_chain_is_estimated_and_capped_by_the_live_price",
        "capped at the shipped price, 3 POSTs over the cap",
        "refused at the live price, 0 POSTs",
    ),
    (
        "Chains: a link refused by the account's rate limit",
        "tests/operators/test_chain.py::test_a_rate_limited_link_waits_in_the_triggerer_and_the_chain_goes_on_paying_each_link_once",
        "the try failed (EmpirioLabsRateLimitError)",
        "waited out in the triggerer; each link paid once",
    ),
    (
        "Chains: a resumed chain re-capped at a price read after its links were paid",
        "tests/operators/test_live_catalogue_runs.py::test_a_chain_admitted_under_its_cap_is_not_refused_when_it_resumes_to_a_higher_price",
        "refused mid-chain: the finished link never recorded done",
        "capped once, before the first link; every link finishes",
    ),
    (
        "Images: the view serves a PNG for a video job",
        "tests/ui/test_ui_images.py::test_a_png_is_served_for_an_image_job_only",
        "served",
        "images only for image jobs",
    ),
    (
        "Images: HTML labelled image/png",
        "tests/transfers/test_images.py::test_an_html_page_labelled_as_an_image_is_refused",
        "no image transfer",
        "refused by the container check",
    ),
    (
        "Chain: a resumed chain records the wrong job for a link",
        "tests/operators/test_chain_dags.py::test_a_three_link_chain_pays_each_link_once",
        "link 2's job recorded as link 1's",
        "each link paid once",
    ),
    (
        "Chain: a crash between links k and k+1",
        "tests/operators/test_chain.py::test_a_crash_after_link_k_is_accepted_pays_each_link_once",
        "a link paid twice (shared record)",
        "each link paid once",
    ),
    (
        "Chain: extend_from unchecked by the simulator for other models",
        "tests/testing/test_extend_from.py::test_an_unknown_job_is_refused_unbilled",
        "accepted",
        "refused unbilled",
    ),
    (
        "Templates: a model outside supported_models is sent",
        "tests/operators/test_templates.py::test_a_model_outside_the_supported_ones_is_refused_before_sending",
        "POSTed, 400",
        "refused before sending",
    ),
    (
        "Templates: the cap ignores a template's default_params",
        "tests/operators/test_templates.py::test_the_cap_holds_with_the_template_duration",
        "every template refused under a cap",
        "priced with its defaults",
    ),
    (
        "Actual cost: a usage endpoint answering 500 or junk",
        "tests/operators/test_actual_cost.py::test_the_operator_finishes_with_the_estimate_when_usage_fails",
        "no lookup",
        "the estimate, labelled, one call",
    ),
    (
        "Actual cost: each job's debited cost among the model's events",
        "tests/operators/test_actual_cost.py::test_each_job_gets_its_own_debited_cost_among_the_model_events",
        "no cost source",
        "matched by output URL",
    ),
    (
        "Compose: any cap",
        "tests/operators/test_compose.py::test_any_cost_cap_refuses_compose_before_sending_saying_why",
        "no Compose path",
        "refused when parsed, naming why, 0 requests",
    ),
    (
        "Compose: a storyboard edited into nonsense by the reviewer",
        "tests/example_dags/test_compose.py::test_a_storyboard_edited_into_nonsense_is_refused_before_the_render_is_paid",
        "no Compose DAG",
        "refused before the render is paid",
    ),
    (
        "Compose: client and simulator disagree on a request",
        "tests/testing/test_simulator_compose.py::test_what_the_client_refuses_the_simulator_refuses_too",
        "no Compose endpoint",
        "both refuse the same requests",
    ),
)


def render_new_surfaces() -> list[str]:
    """The Markdown section: one row per class."""
    head = [
        "",
        "## New surfaces and a new user's first day",
        "",
        "Each class has a test that failed before its fix and passes now (`tests/reliability/new_surfaces.py`).",
        "",
        "| class | test | before | after |",
        "|---|---|---|---|",
    ]
    every_job = [
        "",
        "## Every EmpirioLabs job: specs, the live catalogue, images, chains, templates, actual cost, Compose",
        "",
        "| class | test | before | after |",
        "|---|---|---|---|",
    ]
    return (
        head
        + [f"| {c} | `{t}` | {b} | {a} |" for c, t, b, a in NEW_SURFACES]
        + every_job
        + [f"| {c} | `{t}` | {b} | {a} |" for c, t, b, a in EVERY_JOB]
    )
