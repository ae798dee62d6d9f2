@fault:decline_on_sync
Feature: A payment approved offline is declined when forwarded
  The merchant carries the risk offline: a card declined at forwarding time is
  reported once through the forwarded callback and is not charged
  (docs/domain.md §2, §6).

  Scenario: The backend declines one forwarded payment; the next is charged
    Given a rig with a Stripe Reader M2
    And the backend declines the next 1 forwarded payment with insufficient_funds
    When the internet goes down
    And these customers pay:
      | name  | amount    |
      | radio | 30.00 USD |
      | clock | 12.00 USD |
    And the internet comes back
    Then "radio" is declined on sync with insufficient_funds within 5 minutes
    And "clock" is forwarded within 5 minutes
    And the backend holds 0 charges for "radio"
    And the backend holds 1 charge for "clock"
    And the history has 1 "offline.payment.forwarded" event with amount "30.00 USD"

  Scenario: A smart reader's forwarded payment is declined on sync
    Given a rig with a Stripe Reader S700
    And the backend declines the next 1 forwarded payment with card_velocity_exceeded
    When the internet goes down
    And the customer pays 30.00 USD as "radio"
    And the internet comes back
    Then "radio" is declined on sync with card_velocity_exceeded within 5 minutes
    And the backend holds 0 charges for "radio"
