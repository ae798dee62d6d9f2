@fault:reader_reboot
Feature: The reader reboots
  A reboot is safe: a mobile reader reconnects and takes payments again; a
  smart reader keeps its stored payments and resumes forwarding after it is
  back (docs/domain.md §1).

  Scenario: A mobile reader reboots and takes payments again
    Given a rig with a BBPOS WisePad 3
    Then the reader is connected within 1 minute
    When the reader reboots
    Then the history has a "reader.disconnected" event with reason "reboot_requested" within 1 minute
    And the reader is connected within 3 minutes
    When the customer pays 14.00 USD as "book"
    Then "book" succeeds online

  Scenario: A smart reader reboots with payments stored and forwards them afterwards
    Given a rig with a Stripe Reader S700
    When the internet goes down
    And these customers pay:
      | name | amount    |
      | book | 14.00 USD |
      | pen  | 2.50 USD  |
    And the reader reboots
    And the internet comes back
    Then "book" is forwarded within 5 minutes
    And "pen" is forwarded within 5 minutes
    And the backend holds 1 charge for "book"
    And the backend holds 1 charge for "pen"
