from prefstudy.cli import main

main()
