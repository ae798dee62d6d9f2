Feature: android-459, an undecryptable record while forwarding

  In the field, on a Stripe Reader M2: "stored payments; token fetched;
  forwarding begins", then a crash "failed to decrypt an offline entity". A
  corrupt record must be reported once and the others still forwarded.

  @incident @source:android-459 @defect:corrupt-record-aborts-queue
  Scenario: One damaged record is reported unreadable and the rest are forwarded
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And these customers pay:
      | name  | amount    |
      | one   | 10.00 USD |
      | two   | 20.00 USD |
      | three | 30.00 USD |
    And a stored record on the POS is damaged
    And the app on the POS is killed
    And 10 seconds pass
    And the app on the POS starts again
    And the internet comes back
    And 10 minutes pass
    Then the history has 1 "offline.payment.unreadable" event
    And the history has 2 "offline.payment.forwarded" events
    And the POS reports 0 stored payments
