-- The 33 catalogue rules of rules/*.yaml written by hand as DuckDB SQL: the peer a user
-- would pick instead of kpitool (issue 6). Each statement follows one rule's YAML and
-- returns its company and branch rows: (scope, scope_id, numerator, denominator), with
-- numerator and denominator defined as kpitool's (share: matching rows / rows; mean: sum /
-- count; ratio: sums; rate: rows / denominator rows; coverage: covered / entities).
--
-- Views over the data directory (one per dataset) are created by benchmarks/duckdb_peer.py.
-- Parameters (one month per run): $month 'YYYY-MM', $period_start, $period_end,
-- $next_start (the day after the month), $quarter_start, $year_start, $rolling_start (first
-- day of the 24-month window ending with the month).
-- A statement starts with a line `-- rule: <rule id>`.

-- rule: counter.queue_time_avg
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       SUM((epoch_us(called_at) - epoch_us(arrived_at)) / 60e6) AS numerator,
       COUNT(called_at - arrived_at) AS denominator
FROM counter_visits
WHERE arrived_at >= $period_start AND arrived_at < $next_start
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: counter.handle_time_avg
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       SUM((epoch_us(finished_at) - epoch_us(called_at)) / 60e6) AS numerator,
       COUNT(finished_at - called_at) AS denominator
FROM counter_visits
WHERE arrived_at >= $period_start AND arrived_at < $next_start
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: counter.satisfaction_rate
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE satisfaction >= 4) AS numerator,
       COUNT(*) AS denominator
FROM counter_visits
WHERE arrived_at >= $period_start AND arrived_at < $next_start AND satisfaction IS NOT NULL
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: claims.closed_within_5d_rate
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE closed_at IS NOT NULL
                        AND date_diff('day', reported_at, closed_at) <= 5) AS numerator,
       COUNT(*) AS denominator
FROM claims
WHERE reported_at BETWEEN $period_start AND $period_end
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: underwriting.issued_within_5d_rate
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE issued_at IS NOT NULL
                        AND date_diff('day', applied_at, issued_at) <= 5) AS numerator,
       COUNT(*) AS denominator
FROM policies
WHERE applied_at BETWEEN $period_start AND $period_end AND NOT is_group
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: group.issued_within_5d_rate
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE issued_at IS NOT NULL
                        AND date_diff('day', applied_at, issued_at) <= 5) AS numerator,
       COUNT(*) AS denominator
FROM policies
WHERE applied_at BETWEEN $period_start AND $period_end AND is_group
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: shortterm.simple_loss_ratio
WITH num AS (
    SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
           COALESCE(branch_id, 'ALL') AS scope_id,
           SUM(COALESCE(paid_amount, 0)) AS numerator
    FROM claims
    WHERE closed_at BETWEEN $year_start AND $period_end AND product_line = 'short'
    GROUP BY GROUPING SETS ((), (branch_id))
    HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL
), den AS (
    SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
           COALESCE(branch_id, 'ALL') AS scope_id,
           SUM(premium) AS denominator
    FROM policies
    WHERE issued_at BETWEEN $year_start AND $period_end AND product_line = 'short'
    GROUP BY GROUPING SETS ((), (branch_id))
    HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL
)
SELECT scope, scope_id, COALESCE(numerator, 0) AS numerator, denominator
FROM num FULL JOIN den USING (scope, scope_id);

-- rule: shortterm.comprehensive_loss_ratio
WITH num AS (
    SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
           COALESCE(branch_id, 'ALL') AS scope_id,
           SUM(COALESCE(paid_amount, 0) + COALESCE(expense_amount, 0)) AS numerator
    FROM claims
    WHERE closed_at BETWEEN $year_start AND $period_end AND product_line = 'short'
    GROUP BY GROUPING SETS ((), (branch_id))
    HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL
), den AS (
    SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
           COALESCE(branch_id, 'ALL') AS scope_id,
           SUM(premium) AS denominator
    FROM policies
    WHERE issued_at BETWEEN $year_start AND $period_end AND product_line = 'short'
    GROUP BY GROUPING SETS ((), (branch_id))
    HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL
)
SELECT scope, scope_id, COALESCE(numerator, 0) AS numerator, denominator
FROM num FULL JOIN den USING (scope, scope_id);

-- rule: staff.appraisal_coverage
WITH appraised AS (
    SELECT DISTINCT employee_id FROM appraisals WHERE period = $month AND appraised
)
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(a.employee_id) AS numerator,
       COUNT(*) AS denominator
FROM staff s LEFT JOIN appraised a USING (employee_id)
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: claims.shortterm_investigation_rate
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE investigated) AS numerator,
       COUNT(*) AS denominator
FROM claims
WHERE closed_at BETWEEN $period_start AND $period_end AND product_line = 'short'
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: claims.mandatory_investigation
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE investigated) AS numerator,
       COUNT(*) AS denominator
FROM claims
WHERE closed_at BETWEEN $period_start AND $period_end
  AND product_line = 'short' AND claimed_amount > 2000
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: claims.key_investigation
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE investigated) AS numerator,
       COUNT(*) AS denominator
FROM claims
WHERE closed_at BETWEEN $period_start AND $period_end
  AND (agent_id IN (SELECT key FROM key_lists WHERE list = 'key_agents')
       OR branch_id IN (SELECT key FROM key_lists WHERE list = 'key_branches'))
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: investigators.low_positive_rate
WITH investigators AS (
    SELECT investigator_id,
           COUNT(*) AS investigations,
           COUNT(*) FILTER (WHERE COALESCE(investigation_positive, FALSE)) AS positives
    FROM claims
    WHERE closed_at BETWEEN $year_start AND $period_end
      AND investigated AND investigator_id IS NOT NULL
    GROUP BY investigator_id
), shares AS (
    SELECT *, positives / investigations AS positive_share,
           SUM(positives) OVER () / SUM(investigations) OVER () AS company_share
    FROM investigators
)
SELECT 'company' AS scope, 'ALL' AS scope_id,
       COUNT(*) FILTER (WHERE investigations >= 20
                        AND positive_share < 0.5 * company_share) AS numerator,
       COUNT(*) AS denominator
FROM shares;

-- rule: callbacks.agent_phone
WITH population AS (
    SELECT c.branch_id, c.phone, p.policyholder_id,
           c.phone IN (SELECT phone FROM agents) AS agent_phone
    FROM callbacks c
    LEFT JOIN policies p USING (policy_id)
    LEFT JOIN agents a ON a.agent_id = p.agent_id
    WHERE c.called_at >= $period_start AND c.called_at < $next_start
      AND c.success AND NOT COALESCE(p.policyholder_id = a.person_id, FALSE)
)
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE agent_phone) AS numerator,
       COUNT(*) AS denominator
FROM population
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: callbacks.shared_phone
WITH population AS (
    SELECT c.branch_id, c.phone, p.policyholder_id
    FROM callbacks c
    LEFT JOIN policies p USING (policy_id)
    LEFT JOIN agents a ON a.agent_id = p.agent_id
    WHERE c.called_at >= $period_start AND c.called_at < $next_start
      AND c.success AND NOT COALESCE(p.policyholder_id = a.person_id, FALSE)
), flagged AS (
    SELECT *, COUNT(DISTINCT policyholder_id) OVER (PARTITION BY phone) AS phone_policyholders
    FROM population
)
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE phone_policyholders >= 3) AS numerator,
       COUNT(*) AS denominator
FROM flagged
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: callbacks.suspected_total
WITH population AS (
    SELECT c.branch_id, c.phone, p.policyholder_id,
           c.phone IN (SELECT phone FROM agents) AS agent_phone
    FROM callbacks c
    LEFT JOIN policies p USING (policy_id)
    LEFT JOIN agents a ON a.agent_id = p.agent_id
    WHERE c.called_at >= $period_start AND c.called_at < $next_start
      AND c.success AND NOT COALESCE(p.policyholder_id = a.person_id, FALSE)
), flagged AS (
    SELECT *, COUNT(DISTINCT policyholder_id) OVER (PARTITION BY phone) AS phone_policyholders
    FROM population
)
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE agent_phone OR phone_policyholders >= 3) AS numerator,
       COUNT(*) AS denominator
FROM flagged
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: complaints.on_time_rate
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE closed_at IS NOT NULL AND closed_at <= due_at) AS numerator,
       COUNT(*) AS denominator
FROM complaints
WHERE received_at >= $period_start AND received_at < $next_start
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: complaints.record_completeness
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE registered AND flow_recorded AND documents_kept) AS numerator,
       COUNT(*) AS denominator
FROM complaints
WHERE received_at >= $period_start AND received_at < $next_start
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: counters.inspection_coverage
WITH inspected AS (
    SELECT DISTINCT counter_id FROM inspections
    WHERE inspected_on BETWEEN $quarter_start AND $period_end
)
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(i.counter_id) AS numerator,
       COUNT(*) AS denominator
FROM counters c LEFT JOIN inspected i USING (counter_id)
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: claims.early_death_ci_index
WITH num AS (
    SELECT CASE WHEN GROUPING(c.branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
           COALESCE(c.branch_id, 'ALL') AS scope_id,
           COUNT(*) AS numerator
    FROM claims c LEFT JOIN policies p USING (policy_id)
    WHERE c.reported_at BETWEEN $period_start AND $period_end
      AND c.claim_type IN ('death', 'critical_illness')
      AND c.incident_date < p.issued_at + INTERVAL 2 YEAR
    GROUP BY GROUPING SETS ((), (c.branch_id))
    HAVING GROUPING(c.branch_id) = 1 OR c.branch_id IS NOT NULL
), den AS (
    SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
           COALESCE(branch_id, 'ALL') AS scope_id,
           COUNT(*) AS denominator
    FROM policies
    WHERE issued_at BETWEEN $rolling_start AND $period_end
    GROUP BY GROUPING SETS ((), (branch_id))
    HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL
)
SELECT scope, scope_id, COALESCE(numerator, 0) AS numerator, denominator
FROM num FULL JOIN den USING (scope, scope_id);

-- rule: cards.autodebit_renewal_rate
SELECT CASE WHEN GROUPING(r.branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(r.branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE r.autodebit AND r.paid_at IS NOT NULL
                        AND r.paid_at <= r.due_date + INTERVAL 60 DAY) AS numerator,
       COUNT(*) AS denominator
FROM renewals r JOIN policies p USING (policy_id)
WHERE r.due_date BETWEEN $period_start AND $period_end AND p.is_manual_card IS NOT NULL
GROUP BY GROUPING SETS ((), (r.branch_id))
HAVING GROUPING(r.branch_id) = 1 OR r.branch_id IS NOT NULL;

-- rule: cards.manual_share
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE is_manual_card) AS numerator,
       COUNT(*) AS denominator
FROM policies
WHERE issued_at BETWEEN $period_start AND $period_end AND is_manual_card IS NOT NULL
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: cleanup.completion_rate
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE completed_at IS NOT NULL AND completed_at <= $period_end)
           AS numerator,
       COUNT(*) AS denominator
FROM lapse_cleanup
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: cleanup.unreachable_share
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE outcome = 'unreachable') AS numerator,
       COUNT(*) AS denominator
FROM lapse_cleanup
WHERE completed_at <= $period_end
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: cleanup.last_days_share
WITH deadlines AS (
    SELECT branch_id, MAX(period_end) AS deadline
    FROM targets WHERE rule_id = 'cleanup.completion_rate' AND branch_id IS NOT NULL
    GROUP BY branch_id
), fallback AS (
    SELECT MAX(period_end) AS deadline
    FROM targets WHERE rule_id = 'cleanup.completion_rate' AND branch_id IS NULL
), tasks AS (
    SELECT t.branch_id, t.completed_at,
           COALESCE(d.deadline, (SELECT deadline FROM fallback)) AS deadline
    FROM lapse_cleanup t LEFT JOIN deadlines d USING (branch_id)
    WHERE t.completed_at <= $period_end
)
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE completed_at >= deadline - INTERVAL 1 DAY
                        AND completed_at <= deadline) AS numerator,
       COUNT(*) AS denominator
FROM tasks
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: cleanup.last_days_unreachable_share
WITH deadlines AS (
    SELECT branch_id, MAX(period_end) AS deadline
    FROM targets WHERE rule_id = 'cleanup.completion_rate' AND branch_id IS NOT NULL
    GROUP BY branch_id
), fallback AS (
    SELECT MAX(period_end) AS deadline
    FROM targets WHERE rule_id = 'cleanup.completion_rate' AND branch_id IS NULL
), tasks AS (
    SELECT t.branch_id, t.completed_at, t.outcome,
           COALESCE(d.deadline, (SELECT deadline FROM fallback)) AS deadline
    FROM lapse_cleanup t LEFT JOIN deadlines d USING (branch_id)
    WHERE t.completed_at <= $period_end
)
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE outcome = 'unreachable') AS numerator,
       COUNT(*) AS denominator
FROM tasks
WHERE completed_at >= deadline - INTERVAL 1 DAY AND completed_at <= deadline
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: cleanup.phone_call_rate
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE phone_called_at IS NOT NULL AND phone_called_at <= $period_end)
           AS numerator,
       COUNT(*) AS denominator
FROM lapse_cleanup
WHERE lapse_years >= 3 AND lapse_years <= 6
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: cleanup.evidence_compliance
WITH tasks AS (
    SELECT branch_id,
           concat_ws('; ',
               CASE WHEN NOT has_photo THEN 'no photo' END,
               CASE WHEN NOT has_policy_no THEN 'no policy number' END,
               CASE WHEN COALESCE(visited_person, '') <> 'policyholder'
                    THEN 'not the policyholder' END,
               CASE WHEN outcome = 'met_policyholder' AND NOT has_signature
                    THEN 'no signature' END,
               CASE WHEN outcome = 'phone_confirmed' AND NOT has_recording
                    THEN 'no recording' END) AS reasons
    FROM lapse_cleanup
    WHERE visited_at IS NOT NULL AND visited_at <= $period_end
)
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE reasons = '') AS numerator,
       COUNT(*) AS denominator
FROM tasks
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: obps.collection_rate
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE collected_at IS NOT NULL AND collected_at <= $period_end)
           AS numerator,
       COUNT(*) AS denominator
FROM customer_info
WHERE in_scope
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: renewal.collection_rate
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       SUM(CASE WHEN paid_at IS NOT NULL AND paid_at <= due_date + INTERVAL 60 DAY
                THEN COALESCE(premium_paid, 0) ELSE 0 END) AS numerator,
       SUM(premium_due) AS denominator
FROM renewals
WHERE due_date BETWEEN $period_start AND $period_end
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: renewal.large_unpaid
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE paid_at IS NULL OR paid_at > $period_end) AS numerator,
       COUNT(*) AS denominator
FROM renewals
WHERE due_date BETWEEN $period_start AND $period_end AND premium_due >= 10000
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: renewal.cyclic_insurance
WITH gone AS (
    SELECT branch_id, policyholder_id, status_date
    FROM policies
    WHERE status_date BETWEEN $period_start AND $period_end
      AND status IN ('lapsed', 'surrendered')
), flagged AS (
    SELECT g.*, EXISTS (
        SELECT 1 FROM policies p
        WHERE p.policyholder_id = g.policyholder_id
          AND p.issued_at > g.status_date AND p.issued_at <= g.status_date + INTERVAL 90 DAY
    ) AS reissued_within_90d
    FROM gone g
)
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(DISTINCT policyholder_id) FILTER (WHERE reissued_within_90d) AS numerator,
       COUNT(*) AS denominator
FROM flagged
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;

-- rule: customers.repeat_purchase_rate
WITH customers AS (
    SELECT policyholder_id,
           MAX_BY(branch_id, issued_at) FILTER (WHERE issued_at < $year_start) AS branch_id,
           COUNT(*) FILTER (WHERE issued_at < $year_start) > 0 AS old_customer,
           COUNT(*) FILTER (WHERE product_line = 'long' AND issued_at >= $year_start
                            AND issued_at <= $period_end) > 0 AS bought_long
    FROM policies
    GROUP BY policyholder_id
)
SELECT CASE WHEN GROUPING(branch_id) = 1 THEN 'company' ELSE 'branch' END AS scope,
       COALESCE(branch_id, 'ALL') AS scope_id,
       COUNT(*) FILTER (WHERE bought_long) AS numerator,
       COUNT(*) AS denominator
FROM customers
WHERE old_customer
GROUP BY GROUPING SETS ((), (branch_id))
HAVING GROUPING(branch_id) = 1 OR branch_id IS NOT NULL;
