@fault:record_corrupted
Feature: A stored record is damaged on disk
  A record that cannot be read back is reported once as unreadable and
  dropped; the other stored payments still forward (incident android-459).

  Scenario: A damaged record is reported unreadable when the app starts again
    Given a rig with a Stripe Reader M2
    When the internet goes down
    And the customer pays 16.00 USD as "vase"
    And a stored record on the POS is damaged
    And the app on the POS is killed
    And the app on the POS starts again
    And the internet comes back
    Then "vase" is reported unreadable within 5 minutes
    And the backend holds 0 charges for "vase"

  Scenario: Payments stored after the damage still forward
    Given a rig with a BBPOS WisePad 3
    When the internet goes down
    And the customer pays 16.00 USD as "vase"
    And a stored record on the POS is damaged
    And the app on the POS is killed
    And the app on the POS starts again
    And the customer pays 17.00 USD as "bowl"
    And the internet comes back
    Then "vase" is reported unreadable within 5 minutes
    And "bowl" is forwarded within 5 minutes
    And the backend holds 1 charge for "bowl"

  Scenario: A damaged record on a smart reader is reported unreadable
    Given a rig with a Stripe Reader S700
    When the internet goes down
    And the customer pays 16.00 USD as "vase"
    And a stored record on the reader is damaged
    And the app on the reader is killed
    And the app on the reader starts again
    And the internet comes back
    Then "vase" is reported unreadable within 5 minutes
