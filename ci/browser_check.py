#!/usr/bin/env python3
"""The timeline report and live view in a real browser: headless Chromium
(the Debian package) driven through WebDriver by Selenium, with the
chromedriver that Debian ships beside it (no browser or driver download).

  browser_check.py report PAGE.html --violation TEXT... --screenshot PNG
      the page renders: the violation sentence is in the DOM, every lane,
      at least one shaded fault window and one payment span are drawn;
      clicking the violation fills the event inspector with its events.
  browser_check.py index INDEX.html --scenarios N
      the run's index lists N scenarios and every timeline link opens a
      page that renders.
  browser_check.py open PAGE.html [--runs N]
      how long the page takes from navigation until its timeline is drawn
      (the median of N fresh loads), and what it drew.
  browser_check.py live BASE_URL --screenshot PNG
      /_readerlab/ui of a running `readerlab serve` shows the rig's events;
      after a control-API call injects a fault, its event appears in the
      page without a reload.

Every wait has a deadline; a failure says what was missing and exits 1.
"""
import argparse
import json
import pathlib
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

DEADLINE = 20  # seconds, for any one thing to appear


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(DEADLINE)
    return driver


def fail(message):
    print(f"browser_check: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def wait_for(driver, what, predicate):
    try:
        return WebDriverWait(driver, DEADLINE).until(lambda d: predicate(d))
    except Exception:  # a timeout, or the page went away
        fail(f"{what} did not appear within {DEADLINE} s")


def count(driver, css):
    return len(driver.find_elements(By.CSS_SELECTOR, css))


def check_timeline(driver, label):
    """What every rendered timeline has; returns the numbers seen."""
    wait_for(driver, f"{label}: the timeline", lambda d: count(d, "#plot-svg") == 1)
    lanes = count(driver, "#labels .lane-label.lane")
    backgrounds = count(driver, "rect.lane-bg")
    if lanes < 3 or lanes != backgrounds:
        fail(f"{label}: {lanes} lane labels and {backgrounds} lane rows (want the same, at least 3)")
    return {"lanes": lanes, "fault_windows": count(driver, "rect.fault-window"),
            "payments": count(driver, "line.pay"), "events": count(driver, "circle.ev")}


def report(args):
    page = pathlib.Path(args.page).resolve()
    driver = browser()
    try:
        started = time.monotonic()
        driver.get(page.as_uri())
        seen = check_timeline(driver, page.name)
        opened = time.monotonic() - started
        violations = [v.text for v in driver.find_elements(By.CSS_SELECTOR, ".violation")]
        if not any(all(words in v for words in args.violation) for v in violations):
            fail(f"no violation saying all of {args.violation!r}; the page shows {violations}")
        if seen["fault_windows"] < 1:
            fail("no shaded fault window")
        if seen["payments"] < 1:
            fail("no payment span")
        driver.find_element(By.CSS_SELECTOR, ".violation").click()
        inspector = driver.find_element(By.ID, "inspector").text
        if "{" not in inspector:
            fail(f"clicking the violation showed no event JSON: {inspector!r}")
        marks = count(driver, "line.viol-mark")
        if marks < 1:
            fail("the violation's events are not marked on the timeline")
        driver.save_screenshot(args.screenshot)
        print(f"browser_check: {page.name}: violation shown, {seen['lanes']} lanes, "
              f"{seen['fault_windows']} fault windows, {seen['payments']} payment spans, "
              f"{marks} evidence marks; opened in {opened:.2f} s; screenshot {args.screenshot}")
    finally:
        driver.quit()


def open_page(args):
    page = pathlib.Path(args.page).resolve()
    driver = browser()
    try:
        times = []
        for _ in range(args.runs):
            driver.get("about:blank")
            started = time.monotonic()
            driver.get(page.as_uri())
            seen = check_timeline(driver, page.name)
            times.append(time.monotonic() - started)
        shown = driver.find_element(By.ID, "count").text
        zooms = sorted(driver.execute_script(
            "const t = performance.now(); document.getElementById(arguments[0]).click();"
            " return performance.now() - t;", button) for button in ["zoom-in"] * 3 + ["zoom-fit"] * 2)
        times.sort()
        print(f"browser_check: {page.name} ({page.stat().st_size // 1024} KiB, {shown}): drawn in "
              f"{times[len(times) // 2]:.2f} s (median of {args.runs}; min {times[0]:.2f}, max "
              f"{times[-1]:.2f}); a zoom redraws in {zooms[len(zooms) // 2]:.0f} ms (median of "
              f"{len(zooms)}); {seen['lanes']} lanes, {seen['events']} dots, "
              f"{seen['payments']} payment spans, {seen['fault_windows']} fault windows")
    finally:
        driver.quit()


def index(args):
    page = pathlib.Path(args.page).resolve()
    driver = browser()
    try:
        driver.get(page.as_uri())
        rows = driver.find_elements(By.CSS_SELECTOR, "table.runs tbody tr")
        if len(rows) != args.scenarios:
            fail(f"the index lists {len(rows)} scenarios, not {args.scenarios}")
        links = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "table.runs a")]
        if not links:
            fail("the index links no timeline")
        for link in links:
            driver.get(link)
            check_timeline(driver, link.rsplit("/", 1)[-1])
        print(f"browser_check: index lists {len(rows)} scenarios; all {len(links)} timelines render")
    finally:
        driver.quit()


def control(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + "/_readerlab" + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=DEADLINE) as answer:
        return answer.read()


def events_shown(driver):
    text = driver.find_element(By.ID, "count").text if count(driver, "#count") else ""
    return int(text.split()[0]) if text and text.split()[0].isdigit() else -1


def live(args):
    base = args.base.rstrip("/")
    driver = browser()
    try:
        driver.get(base + "/_readerlab/ui")
        wait_for(driver, "the live badge", lambda d: count(d, "#live") == 1)
        check_timeline(driver, "live view")
        before = wait_for(driver, "the rig's first events", lambda d: events_shown(d) > 0 and events_shown(d))
        faults_before = count(driver, "rect.fault-window")
        control(base, "POST", "/faults", {"fault": {"link_down": {"link": {"ReaderBackend": 0}}}})
        after = wait_for(driver, "the injected fault's event",
                         lambda d: events_shown(d) > before and count(d, "rect.fault-window") > faults_before
                         and events_shown(d))
        rows = " ".join(r.text for r in driver.find_elements(By.CSS_SELECTOR, "#list .row"))
        driver.save_screenshot(args.screenshot)
        print(f"browser_check: live view went from {before} to {after} events after POST /faults "
              f"without a reload; the fault window is drawn; screenshot {args.screenshot}")
        if "fault.injected" not in rows and after <= before:
            fail("the new event is not listed")
    finally:
        driver.quit()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    r = sub.add_parser("report")
    r.add_argument("page")
    r.add_argument("--violation", required=True, action="append",
                   help="words one violation's sentence must hold (repeatable: all of them)")
    r.add_argument("--screenshot", required=True)
    i = sub.add_parser("index")
    i.add_argument("page")
    i.add_argument("--scenarios", type=int, required=True)
    o = sub.add_parser("open")
    o.add_argument("page")
    o.add_argument("--runs", type=int, default=3)
    lv = sub.add_parser("live")
    lv.add_argument("base")
    lv.add_argument("--screenshot", required=True)
    args = parser.parse_args()
    {"report": report, "index": index, "open": open_page, "live": live}[args.what](args)


if __name__ == "__main__":
    main()
