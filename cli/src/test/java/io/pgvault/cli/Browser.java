package io.pgvault.cli;

import org.junit.jupiter.api.Assumptions;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.TimeoutException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A real headless Chromium (Debian's {@code chromium} and {@code chromium-driver}) driven
 * through its own chromedriver: never Selenium Manager, which would try to download one.
 * Always closed, also when a test fails ({@code try-with-resources}); screenshots go to
 * {@code target/screenshots/}. Without the two programs the test is skipped by an
 * assumption that says what to install, never passed.
 */
public final class Browser implements AutoCloseable {

    private static final Path SCREENSHOTS = Path.of("target", "screenshots");
    private static final Duration WAIT = Duration.ofSeconds(30);

    private final ChromeDriverService service;
    private final ChromeDriver driver;
    /** The emulated phone's viewport, null on the desktop. */
    private Dimension phone;

    private Browser(ChromeDriverService service, ChromeDriver driver) {
        this.service = service;
        this.driver = driver;
    }

    /** A browser window of {@code width} x {@code height}; skips the test when Chromium or its driver is missing. */
    public static Browser start(int width, int height) {
        Optional<Path> chromedriver = program("webdriver.chrome.driver", "chromedriver");
        Optional<Path> chromium = program("pgvault.test.chromium", "chromium", "chromium-browser");
        Assumptions.assumeTrue(chromedriver.isPresent() && chromium.isPresent(),
                "no chromium/chromedriver on PATH: install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; "
                        + ".ci/run does) to run the dashboard's browser tests");
        // The driver we name: with it set, Selenium never asks Selenium Manager for one.
        System.setProperty("webdriver.chrome.driver", chromedriver.get().toString());
        ChromeOptions options = new ChromeOptions();
        options.setBinary(chromium.get().toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=" + width + "," + height, "--no-first-run", "--no-default-browser-check",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--lang=en-US");
        LoggingPreferences logs = new LoggingPreferences();
        logs.enable(LogType.BROWSER, Level.ALL);
        options.setCapability("goog:loggingPrefs", logs);
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(chromedriver.get().toFile())
                .usingAnyFreePort()
                .withLogOutput(java.io.OutputStream.nullOutputStream())
                .build();
        try {
            ChromeDriver driver = new ChromeDriver(service, options);
            driver.manage().timeouts().scriptTimeout(Duration.ofSeconds(30));
            return new Browser(service, driver);
        } catch (RuntimeException e) {
            service.stop();
            throw e;
        }
    }

    /** A program from the system property {@code property}, else the first of {@code names} on PATH. */
    private static Optional<Path> program(String property, String... names) {
        String given = System.getProperty(property);
        if (given != null && !given.isBlank()) {
            Path p = Path.of(given);
            return Files.isExecutable(p) ? Optional.of(p) : Optional.empty();
        }
        String path = Optional.ofNullable(System.getenv("PATH")).orElse("");
        return Stream.of(path.split(File.pathSeparator)).filter(d -> !d.isBlank())
                .flatMap(d -> Stream.of(names).map(n -> Path.of(d, n)))
                .filter(Files::isExecutable)
                .findFirst();
    }

    public WebDriver driver() {
        return driver;
    }

    public void open(String url) {
        driver.get(url);
    }

    public void resize(int width, int height) {
        driver.manage().window().setSize(new Dimension(width, height));
    }

    /** A phone: the viewport is {@code width} x {@code height} CSS pixels, with touch and the mobile flag, as DevTools' device mode. */
    public void emulatePhone(int width, int height) {
        phone = new Dimension(width, height);
        phoneMetrics(height);
        driver.executeCdpCommand("Emulation.setTouchEmulationEnabled", Map.of("enabled", true));
    }

    private void phoneMetrics(int height) {
        driver.executeCdpCommand("Emulation.setDeviceMetricsOverride",
                Map.of("width", phone.getWidth(), "height", height, "deviceScaleFactor", 1, "mobile", true));
    }

    public void desktop() {
        phone = null;
        driver.executeCdpCommand("Emulation.clearDeviceMetricsOverride", Map.of());
        driver.executeCdpCommand("Emulation.setTouchEmulationEnabled", Map.of("enabled", false));
    }

    public static By testId(String id) {
        return By.cssSelector("[data-testid='" + id + "']");
    }

    /** The first visible element {@code by} finds, waiting for it. */
    public WebElement await(By by) {
        return until(d -> d.findElements(by).stream().filter(WebElement::isDisplayed).findFirst().orElse(null),
                "a visible " + by);
    }

    /** Waits until {@code condition} answers non-null (or true); fails with {@code what} and the page's console. */
    public <T> T until(Function<WebDriver, T> condition, String what) {
        try {
            return new WebDriverWait(driver, WAIT, Duration.ofMillis(200))
                    .ignoring(org.openqa.selenium.StaleElementReferenceException.class)
                    .until(condition);
        } catch (TimeoutException e) {
            screenshot("timeout");
            throw new AssertionError("waited " + WAIT.toSeconds() + " s for " + what + " on " + driver.getCurrentUrl()
                    + "\nbrowser console:\n" + console(), e);
        }
    }

    public Object script(String js, Object... args) {
        return ((JavascriptExecutor) driver).executeScript(js, args);
    }

    /** What the page logged (errors, failed requests); for failure messages. */
    public String console() {
        try {
            return driver.manage().logs().get(LogType.BROWSER).getAll().stream().map(LogEntry::toString).collect(Collectors.joining("\n"));
        } catch (RuntimeException e) {
            return "(console not available: " + e.getMessage() + ")";
        }
    }

    /** Saves the page as {@code target/screenshots/NAME.png} and returns the file. */
    public Path screenshot(String name) {
        try {
            Files.createDirectories(SCREENSHOTS);
            Path file = SCREENSHOTS.resolve(name + ".png");
            Files.write(file, ((TakesScreenshot) driver).getScreenshotAs(OutputType.BYTES));
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (RuntimeException e) {
            // A screenshot after a failure must not hide the failure.
            return null;
        }
    }

    /** A screenshot of the whole page, not only the window: the window grows to the page's height for it. */
    public Path fullPageScreenshot(String name) {
        int height = (int) Math.min(6000, ((Number) script("return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)")).longValue());
        if (phone != null) {
            try {
                phoneMetrics(height);
                return screenshot(name);
            } finally {
                phoneMetrics(phone.getHeight());
            }
        }
        Dimension before = driver.manage().window().getSize();
        try {
            resize(before.getWidth(), (int) (height + (before.getHeight() - viewportHeight())));
            return screenshot(name);
        } finally {
            resize(before.getWidth(), before.getHeight());
        }
    }

    private long viewportHeight() {
        return ((Number) script("return window.innerHeight")).longValue();
    }

    @Override
    public void close() {
        try {
            driver.quit();
        } catch (RuntimeException e) {
            // quit after a crashed browser: the service below still stops the driver process
        } finally {
            service.stop();
        }
    }
}
