"""The operator's console page (index.html, console.css, console.js), served by domectl.control at /."""
