Feature: rn-1061, a failed forward reported more than once

  In the field: "offline payment with a declining amount; back online". iOS
  reported the failed forward twice, Android once with a different status.
  Each stored payment gets exactly one forwarded callback.

  @incident @source:rn-1061 @defect:duplicate-outcome
  Scenario: A payment declined at forwarding is reported to the app exactly once
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And the customer pays 30.05 USD as "gift"
    Then "gift" is stored offline
    When the internet comes back
    Then "gift" is declined on sync with generic_decline within 5 minutes
    When 10 minutes pass
    Then the history has 1 "offline.payment.forwarded" event
    And the backend holds 0 charges for "gift"
